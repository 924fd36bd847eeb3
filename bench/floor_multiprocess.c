/*
 * The disk's floor for W6 / issue 4: W processes commit N times each to one
 * log, the way txtdb's writers do at the system-call level — take the writer
 * lock (an OFD byte-range lock on byte 0 of a lock file), append 256 bytes
 * at the shared end offset, release, fdatasync — with nothing else: no
 * encoding, no catch-up, no event loop. What it prints is what 4 processes
 * could reach on this disk if the rest cost nothing.
 *
 *   cc -O2 -o /tmp/floor_mp bench/floor_multiprocess.c
 *   /tmp/floor_mp <mode> <writers> <commits each> [preallocate]
 *
 *   mode 0  every writer issues its own fdatasync after its append (txtdb, PP-5)
 *   mode 1  a writer first waits, through a lock on byte 5, for an fdatasync
 *           already running in another process, and skips its own when that
 *           one covered its append (a "sync leader", as tried for PP-5)
 *   preallocate 1: the log is written with spaces and synced first, so an
 *           append overwrites blocks the file already has (txtdb's padding, SEG-7)
 *
 * Files go to $TMPDIR (default /tmp): floor_mp.log and floor_mp.lock.
 * Linux only (F_OFD_SETLK).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int lock_byte(int fd, short type, off_t start, int wait) {
  struct flock fl = {0};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = 1;
  return fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
}

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s <mode 0|1> <writers> <commits each> [preallocate 0|1]\n", argv[0]);
    return 2;
  }
  const int mode = atoi(argv[1]), writers = atoi(argv[2]), commits = atoi(argv[3]);
  const int preallocate = argc > 4 ? atoi(argv[4]) : 0;
  if (writers < 1 || writers > 64 || commits < 1) return 2;
  const char* tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
  char logPath[4096], lockPath[4096];
  snprintf(logPath, sizeof logPath, "%s/floor_mp.log", tmp);
  snprintf(lockPath, sizeof lockPath, "%s/floor_mp.lock", tmp);

  int log = open(logPath, O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (log < 0) { perror(logPath); return 1; }
  if (preallocate) {
    char spaces[1 << 16];
    memset(spaces, ' ', sizeof spaces);
    for (long done = 0; done < (long)writers * commits * 256 + (1 << 16); done += sizeof spaces) {
      if (write(log, spaces, sizeof spaces) != (ssize_t)sizeof spaces) { perror("write"); return 1; }
    }
    fsync(log);
  }
  close(log);
  int lockFile = open(lockPath, O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (lockFile < 0 || ftruncate(lockFile, 4096) != 0) { perror(lockPath); return 1; }
  close(lockFile);

  int pipes[64][2];
  const double t0 = now();
  for (int w = 0; w < writers; w++) {
    if (pipe(pipes[w]) != 0) { perror("pipe"); return 1; }
    if (fork() != 0) continue;
    const int fd = open(logPath, O_RDWR), lk = open(lockPath, O_RDWR), waitLk = open(lockPath, O_RDWR);
    /* shared[0]: the log's end; shared[1]: how far the log is known durable (mode 1) */
    volatile long long* shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, lk, 0);
    char line[256];
    memset(line, 'x', sizeof line - 1);
    line[sizeof line - 1] = '\n';
    long long syncs = 0;
    for (int i = 0; i < commits; i++) {
      lock_byte(lk, F_WRLCK, 0, 1);
      const long long end = shared[0];
      if (pwrite(fd, line, sizeof line, end) != (ssize_t)sizeof line) _exit(1);
      shared[0] = end + (long long)sizeof line;
      lock_byte(lk, F_UNLCK, 0, 0);
      const long long mine = end + (long long)sizeof line;
      if (mode == 0) {
        fdatasync(fd);
        syncs++;
        continue;
      }
      while (__atomic_load_n(&shared[1], __ATOMIC_SEQ_CST) < mine) {
        if (lock_byte(lk, F_WRLCK, 5, 0) == 0) {
          if (shared[1] < mine) {
            const long long covered = shared[0];
            fdatasync(fd);
            syncs++;
            if (shared[1] < covered) shared[1] = covered;
          }
          lock_byte(lk, F_UNLCK, 5, 0);
          break;
        }
        lock_byte(waitLk, F_RDLCK, 5, 1); /* the running fdatasync ends */
        lock_byte(waitLk, F_UNLCK, 5, 0);
      }
    }
    if (write(pipes[w][1], &syncs, sizeof syncs) != (ssize_t)sizeof syncs) _exit(1);
    _exit(0);
  }
  long long syncs = 0;
  for (int w = 0; w < writers; w++) {
    long long s = 0;
    if (read(pipes[w][0], &s, sizeof s) == (ssize_t)sizeof s) syncs += s;
  }
  while (wait(NULL) > 0) {}
  const double seconds = now() - t0;
  printf("mode %d, %d writers x %d commits, preallocate %d: %.0f commits/s, %lld fdatasyncs\n",
         mode, writers, commits, preallocate, writers * commits / seconds, syncs);
  unlink(logPath);
  unlink(lockPath);
  return 0;
}
