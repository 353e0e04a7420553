/* workload: the rig's test process.
 *
 * usage: workload [TOTAL_MIB [HOT_MIB [SECS]]]      (defaults: 64 8 0)
 *
 * mmaps TOTAL MiB of anonymous memory (no THP), writes every page once with a
 * non-zero byte (so zram cannot treat it as a zero page), prints
 * "PID ADDR LEN" on stdout, then keeps writing the first HOT MiB (one byte per
 * page, then 1 ms sleep) for SECS seconds (0 = forever).  Statically linked so
 * it runs from the busybox initramfs as /bin/workload. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
	size_t total = (size_t)(argc > 1 ? atol(argv[1]) : 64) << 20;
	size_t hot = (size_t)(argc > 2 ? atol(argv[2]) : 8) << 20;
	int secs = argc > 3 ? atoi(argv[3]) : 0;
	long ps = sysconf(_SC_PAGESIZE);
	char *buf;
	time_t end;

	if (hot > total) {
		fprintf(stderr, "workload: HOT > TOTAL\n");
		return 2;
	}
	buf = mmap(NULL, total, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	madvise(buf, total, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < total; i += ps)
		buf[i] = (char)i | 1;
	printf("%d %p %zu\n", getpid(), (void *)buf, total);
	fflush(stdout);
	end = time(NULL) + secs;
	while (secs == 0 || time(NULL) < end) {
		for (size_t i = 0; i < hot; i += ps)
			buf[i] += 1;
		usleep(1000);
	}
	return 0;
}
