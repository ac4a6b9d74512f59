// An LD_PRELOAD stand-in for setsockopt, for test/unit/udp-socket.test.ts: it logs every
// IP_MTU_DISCOVER / IPV6_MTU_DISCOVER call to stderr ("probe" when it asks for IP_PMTUDISC_PROBE,
// "restore" otherwise, then "ok" or "failed"), and makes the restore named by
// HYBRIDWIRE_TEST_FAIL_RESTORE (1 for the first) fail with EPERM.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

typedef int (*setsockopt_function)(int, int, int, const void*, socklen_t);

int setsockopt(int fd, int level, int name, const void* value, socklen_t length) {
  static setsockopt_function real;
  static int restores;
  if (real == NULL) real = (setsockopt_function)dlsym(RTLD_NEXT, "setsockopt");
  const int discovery = (level == IPPROTO_IP && name == IP_MTU_DISCOVER) || (level == IPPROTO_IPV6 && name == IPV6_MTU_DISCOVER);
  if (!discovery || length != sizeof(int)) return real(fd, level, name, value, length);
  const int probe = *(const int*)value == IP_PMTUDISC_PROBE;
  int result;
  if (!probe && ++restores == atoi(getenv("HYBRIDWIRE_TEST_FAIL_RESTORE") ? getenv("HYBRIDWIRE_TEST_FAIL_RESTORE") : "0")) {
    errno = EPERM;
    result = -1;
  } else {
    result = real(fd, level, name, value, length);
  }
  fprintf(stderr, "%s %s\n", probe ? "probe" : "restore", result == 0 ? "ok" : "failed");
  return result;
}
