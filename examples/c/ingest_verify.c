/* Collects a recorder folder into a store, then verifies the store.
 *   ./ingest_verify STATION.KEY RECORDER_DIR STORE_DIR
 * Exit 0: collected and verified; 1: a file refused or a failure found; 2: error. */
#include <custody.h>
#include <stdio.h>
#include <string.h>

static int show(void *user, uint64_t done, uint64_t total) {
  (void)user;
  fprintf(stderr, "\rcollected %llu of %llu", (unsigned long long)done, (unsigned long long)total);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s STATION.KEY RECORDER_DIR STORE_DIR\n", argv[0]);
    return 2;
  }
  custody_key *key = NULL;
  if (custody_key_load(argv[1], &key) != CUSTODY_STATUS_OK) {
    fprintf(stderr, "%s\n", custody_last_error());
    return 2;
  }
  char *json = NULL, *pub = NULL, options[200];
  custody_key_public(key, &pub);
  /* The station's own key is the trust anchor: {"public_key":"<64 hex>",...} */
  const char *hex = strstr(pub, "\"public_key\":\"") + 14;
  snprintf(options, sizeof options, "{\"public_keys\":[\"%.64s\"]}", hex);
  custody_string_free(pub);

  int code = 0;
  custody_status s = custody_ingest(argv[2], argv[3], key, "{\"station\":\"example\"}", show, NULL, &json);
  fputc('\n', stderr);
  custody_key_free(key);
  if (s != CUSTODY_STATUS_OK && s != CUSTODY_STATUS_FINDINGS) {
    fprintf(stderr, "ingest: %s\n", custody_last_error());
    return 2;
  }
  printf("%s\n", json);
  custody_string_free(json);
  code |= s == CUSTODY_STATUS_FINDINGS;

  s = custody_verify(argv[3], options, &json);
  if (s != CUSTODY_STATUS_OK && s != CUSTODY_STATUS_FINDINGS) {
    fprintf(stderr, "verify: %s\n", custody_last_error());
    return 2;
  }
  printf("%s\n", json);
  custody_string_free(json);
  return code | (s == CUSTODY_STATUS_FINDINGS);
}
