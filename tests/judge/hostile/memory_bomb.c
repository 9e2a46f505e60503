/* Eight processes, each touching 64 MiB: the limit is on the run, not on a process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    for (int i = 0; i < 7; i++) if (fork() == 0) break;
    char *p = malloc(64 << 20);
    if (!p) return 3;
    memset(p, getpid() & 0x7f, 64 << 20);
    sleep(5);
    printf("%d\n", p[12345]); /* the memory is used: the compiler may not drop it */
    return 0;
}
