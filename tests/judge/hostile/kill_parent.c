/* Kill everything it can see: its parent, pid 1, every process (-1). */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
int main(void) {
    int a = kill(getppid(), SIGKILL);
    int b = kill(1, SIGKILL);
    int c = kill(-1, SIGKILL);
    printf("%d %d %d alive\n", a, b, c);
    return 0;
}
