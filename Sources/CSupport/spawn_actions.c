// glibc's non-portable posix_spawn file actions, which Swift's Glibc module does not show
// (they are declared only under _GNU_SOURCE).
#define _GNU_SOURCE
#include "CSupport.h"
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <unistd.h>

int saro_spawn_add_closefrom(void *actions, int lowest_fd) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np((posix_spawn_file_actions_t *)actions, lowest_fd);
#else
    (void)actions; (void)lowest_fd;
    return ENOSYS;
#endif
}

int saro_spawn_add_chdir(void *actions, const char *path) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 29))
    return posix_spawn_file_actions_addchdir_np((posix_spawn_file_actions_t *)actions, path);
#else
    (void)actions; (void)path;
    return ENOSYS;
#endif
}

int saro_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
