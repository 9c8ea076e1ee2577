/* Hashing from C with progress and cancellation, and locating a change
 * against the chunk tree. Arguments: a file to hash, a folder for trees. */
#include "check.h"

static int calls;
static int count(void *user, uint64_t done, uint64_t total) {
  (void)user;
  CHECK(done <= total);
  calls++;
  return 0;
}
static int stop(void *user, uint64_t done, uint64_t total) {
  (void)done;
  (void)total;
  return ++*(int *)user >= 2; /* cancel on the second call */
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  char *json = NULL;
  CHECK(custody_hash(argv[1], CUSTODY_HASH_MD5, argv[2], count, NULL, &json) == CUSTODY_STATUS_OK);
  CHECK(calls > 1);
  CONTAINS(json, "\"blake3\":\"");
  CONTAINS(json, "\"md5\":\"");
  CONTAINS(json, ".b3tree\"");
  custody_string_free(json);

  int seen = 0;
  CHECK(custody_hash(argv[1], 0, NULL, stop, &seen, &json) == CUSTODY_STATUS_CANCELLED);
  CHECK(json == NULL && seen == 2);
  CONTAINS(custody_last_error(), "cancelled");

  /* Unchanged, then one byte changed. */
  char tree[4096];
  const char *name = strrchr(argv[1], '/');
  snprintf(tree, sizeof tree, "%s/%s.b3tree", argv[2], name ? name + 1 : argv[1]);
  CHECK(custody_locate(argv[1], tree, &json) == CUSTODY_STATUS_OK);
  CONTAINS(json, "\"ok\":true");
  custody_string_free(json);
  FILE *f = fopen(argv[1], "r+b");
  CHECK(f != NULL);
  fseek(f, 70000, SEEK_SET);
  fputc('!', f);
  fclose(f);
  CHECK(custody_locate(argv[1], tree, &json) == CUSTODY_STATUS_FINDINGS);
  CONTAINS(json, "\"ok\":false");
  CONTAINS(json, "\"changed\":[{");
  custody_string_free(json);

  /* A tree that is not one. */
  CHECK(custody_locate(argv[1], argv[1], &json) == CUSTODY_STATUS_TREE);
  puts("hash_locate: ok");
  return 0;
}
