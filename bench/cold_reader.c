/* One cold pass for bench/bench_cold.py: T threads each open/read/close a share of a
   NUL-separated list of paths (relative to DIR). Prints the seconds of the pass and the
   files read. No repeats: the caller evicts the page cache before every pass.
   Build: cc -O2 -pthread -o cold_reader cold_reader.c */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char **paths;
static long n, failed;
static int dirfd_, T;

static void *work(void *arg) {
  long id = (long)arg, bad = 0;
  char *buf = malloc(1 << 20);
  for (long i = id; i < n; i += T) {
    int fd = openat(dirfd_, paths[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) { bad++; continue; }
    while (read(fd, buf, 1 << 20) > 0) {}
    close(fd);
  }
  free(buf);
  __atomic_add_fetch(&failed, bad, __ATOMIC_RELAXED);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: cold_reader DIR LISTFILE THREADS\n"); return 2; }
  dirfd_ = open(argv[1], O_RDONLY | O_DIRECTORY);
  T = atoi(argv[3]);
  if (dirfd_ < 0 || T < 1 || T > 4096) { perror(argv[1]); return 2; }
  FILE *f = fopen(argv[2], "rb");
  if (!f) { perror(argv[2]); return 2; }
  fseek(f, 0, SEEK_END); long sz = ftell(f); rewind(f);
  char *blob = malloc(sz + 1);
  if (fread(blob, 1, sz, f) != (size_t)sz) return 2;
  blob[sz] = 0;
  paths = malloc(sizeof(char *) * (sz + 1));
  for (char *p = blob; p < blob + sz; p += strlen(p) + 1) paths[n++] = p;
  pthread_t *th = malloc(sizeof(pthread_t) * T);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long t = 0; t < T; t++) pthread_create(&th[t], NULL, work, (void *)t);
  for (long t = 0; t < T; t++) pthread_join(th[t], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.6f %ld %ld\n", (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9, n, failed);
  return failed ? 1 : 0;
}
