/* A tiny test harness for the C API tests: CHECK stops with the line and the
 * library's last error. */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <custody.h>

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      const char *e = custody_last_error();                                  \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__, \
              __LINE__, #cond, e ? e : "(none)");                            \
      exit(1);                                                               \
    }                                                                        \
  } while (0)

#define CONTAINS(json, text) CHECK((json) != NULL && strstr((json), (text)) != NULL)
#endif
