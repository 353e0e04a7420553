/* phases: run a masim config (sjp38/masim's format, the same files
 * examples/workloads/ holds and `damos run --sim` simulates) as a real
 * process, and say where and when it accessed what: the rig's ground truth.
 *
 * usage: phases CONFIG [HOLD_MS]
 *
 * Maps each region page-aligned (no THP), writes every page once, prints
 *   pid PID
 *   region NAME START END          (hex, END exclusive)
 * then sleeps HOLD_MS (default 0) so monitors can attach, and runs every
 * phase once, printing before each
 *   phase T NAME                   (T: CLOCK_MONOTONIC seconds)
 * and at the end "end T".  Like masim, each step picks one of the phase's
 * patterns by weight and makes 131072 accesses (writes) to it: sequential
 * with the pattern's stride, wrapping at the region's end, or random.
 * Statically linked into the rig's initramfs as /bin/phases. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#define MAX_REGIONS 64
#define MAX_PHASES 64
#define MAX_PATTERNS 16
#define ACCESSES_PER_STEP 131072

struct region { char name[64]; size_t sz; char *p; };
struct pattern { int region; int random; size_t stride; int weight; size_t pos; };
struct phase { char name[64]; int ms; int nr; struct pattern pat[MAX_PATTERNS]; };

static struct region regions[MAX_REGIONS];
static struct phase phases[MAX_PHASES];
static int nr_regions, nr_phases;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int find_region(const char *name)
{
	for (int i = 0; i < nr_regions; i++)
		if (!strcmp(regions[i].name, name))
			return i;
	return -1;
}

static void chomp(char *s)
{
	s[strcspn(s, "\r\n")] = 0;
}

/* paragraphs split by empty lines; '#' lines dropped (masim's rules) */
static int parse(FILE *f)
{
	char line[512];
	int para = 0, lineno = 0, in_para = 0;
	struct phase *ph = NULL;

	while (fgets(line, sizeof(line), f)) {
		chomp(line);
		if (line[0] == '#')
			continue;
		if (!line[0]) {
			if (in_para)
				para++;
			in_para = 0;
			lineno = 0;
			continue;
		}
		in_para = 1;
		if (para == 0) {
			struct region *r = &regions[nr_regions];
			char *comma = strchr(line, ',');

			if (!comma || nr_regions == MAX_REGIONS)
				return -1;
			*comma = 0;
			snprintf(r->name, sizeof(r->name), "%.63s", line);
			r->sz = strtoull(comma + 1, NULL, 10);
			if (!r->sz)
				return -1;
			nr_regions++;
			continue;
		}
		if (lineno == 0) {
			if (nr_phases == MAX_PHASES)
				return -1;
			ph = &phases[nr_phases++];
			snprintf(ph->name, sizeof(ph->name), "%.63s", line);
		} else if (lineno == 1) {
			ph->ms = atoi(line);
		} else {
			char name[64];
			int rnd, weight;
			unsigned long stride;
			struct pattern *p;

			if (ph->nr == MAX_PATTERNS ||
			    sscanf(line, "%63[^,], %d, %lu, %d", name, &rnd, &stride, &weight) != 4)
				return -1;
			p = &ph->pat[ph->nr++];
			p->region = find_region(name);
			if (p->region < 0)
				return -1;
			p->random = rnd;
			p->stride = stride ? stride : 1;
			p->weight = weight;
		}
		lineno++;
	}
	return nr_regions && nr_phases ? 0 : -1;
}

static void step(struct pattern *p)
{
	struct region *r = &regions[p->region];
	volatile char *base = r->p;

	for (int i = 0; i < ACCESSES_PER_STEP; i++) {
		size_t off;

		if (p->random) {
			off = ((size_t)random() * 4096 + (size_t)random()) % r->sz;
		} else {
			off = p->pos;
			p->pos += p->stride;
			if (p->pos >= r->sz)
				p->pos = 0;
		}
		base[off] = (char)i | 1;
	}
}

int main(int argc, char **argv)
{
	FILE *f;
	int hold_ms = argc > 2 ? atoi(argv[2]) : 0;

	if (argc < 2) {
		fprintf(stderr, "usage: phases CONFIG [HOLD_MS]\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f || parse(f)) {
		fprintf(stderr, "phases: cannot read config %s\n", argv[1]);
		return 2;
	}
	fclose(f);
	printf("pid %d\n", getpid());
	for (int i = 0; i < nr_regions; i++) {
		struct region *r = &regions[i];

		r->p = mmap(NULL, r->sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r->p == MAP_FAILED) {
			perror("phases: mmap");
			return 1;
		}
		madvise(r->p, r->sz, MADV_NOHUGEPAGE);
		for (size_t off = 0; off < r->sz; off += 4096)
			r->p[off] = 1;
		printf("region %s %#lx %#lx\n", r->name, (unsigned long)r->p,
		       (unsigned long)r->p + ((r->sz + 4095) & ~4095UL));
	}
	fflush(stdout);
	if (hold_ms)
		usleep(hold_ms * 1000);
	srandom(42);
	for (int k = 0; k < nr_phases; k++) {
		struct phase *ph = &phases[k];
		int total = 0;
		double end;

		for (int j = 0; j < ph->nr; j++)
			total += ph->pat[j].weight;
		printf("phase %.6f %s\n", now(), ph->name);
		fflush(stdout);
		end = now() + ph->ms / 1000.0;
		while (now() < end) {
			int pick = total ? random() % total : 0, j = 0;

			while (j < ph->nr - 1 && pick >= ph->pat[j].weight)
				pick -= ph->pat[j++].weight;
			step(&ph->pat[j]);
		}
	}
	printf("end %.6f\n", now());
	return 0;
}
