/* timeloop N INPUT COMMAND [ARG...]: run COMMAND N times, one after the other, each with
   INPUT as its standard input and its standard output discarded; print each run's
   wall-clock milliseconds, one a line. Exit 1 if a run fails.
   Built static by bench/bench_images.py and mounted into the test images, so the start
   of `/oscar/bin/supervisor` is timed inside the container, without the engine's own
   overhead, even in images that have no `date +%N` (busybox) or no C library at all. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: timeloop N INPUT COMMAND [ARG...]\n");
        return 2;
    }
    int runs = atoi(argv[1]);
    for (int i = 0; i < runs; i++) {
        double started = now_ms();
        pid_t pid = fork();
        if (pid == 0) {
            int in = open(argv[2], O_RDONLY), out = open("/dev/null", O_WRONLY);
            if (in < 0 || out < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0)
                _exit(126);
            execv(argv[3], argv + 3);
            _exit(127);
        }
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "timeloop: run %d of %s failed\n", i + 1, argv[3]);
            return 1;
        }
        printf("%.3f\n", now_ms() - started);
    }
    return 0;
}
