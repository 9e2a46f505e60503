/* socket(2) itself is refused by the seccomp filter, whatever the network namespace. */
#include <errno.h>
#include <stdio.h>
#include <sys/socket.h>
int main(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 && errno == EPERM) { puts("EPERM"); return 0; }
    printf("socket returned %d errno %d\n", fd, errno);
    return 0;
}
