/* Collecting into a store, verifying and reporting from C, with a key
 * handle. Arguments: key file, recorder folder, store folder. */
#include "check.h"

static int files;
static int progress(void *user, uint64_t done, uint64_t total) {
  (void)user;
  CHECK(done <= total);
  files++;
  return 0;
}

static int stop_after_one(void *user, uint64_t done, uint64_t total) {
  (void)user;
  (void)total;
  return done >= 1;
}

int main(int argc, char **argv) {
  CHECK(argc == 4);
  custody_key *key = NULL;
  CHECK(custody_key_load(argv[1], &key) == CUSTODY_STATUS_OK && key != NULL);
  char *json = NULL;
  CHECK(custody_key_public(key, &json) == CUSTODY_STATUS_OK);
  char public_key[65] = {0};
  const char *at = strstr(json, "\"public_key\":\"");
  CHECK(at != NULL);
  memcpy(public_key, at + 14, 64);
  custody_string_free(json);

  /* Cancelled after the first file: the second, begun already, finishes;
   * the third is deferred, not lost. */
  char cancelled[4096];
  snprintf(cancelled, sizeof cancelled, "%s-cancelled", argv[3]);
  CHECK(custody_ingest(argv[2], cancelled, key, "{\"jobs\":1,\"settle_s\":0}", stop_after_one,
                       NULL, &json) == CUSTODY_STATUS_FINDINGS);
  CONTAINS(json, "\"registered\":2");
  CONTAINS(json, "\"deferred\":1");
  CONTAINS(json, "cancelled");
  custody_string_free(json);

  CHECK(custody_ingest(argv[2], argv[3], key,
                       "{\"station\":\"dock-7\",\"operator\":\"c-test\"}", progress, NULL,
                       &json) == CUSTODY_STATUS_OK);
  CONTAINS(json, "\"registered\":3");
  custody_string_free(json);
  CHECK(files == 3);

  char options[256];
  snprintf(options, sizeof options, "{\"public_keys\":[\"%s\"]}", public_key);
  CHECK(custody_verify(argv[3], options, &json) == CUSTODY_STATUS_OK);
  CONTAINS(json, "\"ok\":true");
  custody_string_free(json);

  CHECK(custody_report(argv[3], options, &json) == CUSTODY_STATUS_OK);
  CONTAINS(json, "\"devices\"");
  custody_string_free(json);

  /* Unknown options are refused, not ignored. */
  CHECK(custody_verify(argv[3], "{\"public_key\":\"x\"}", &json) ==
        CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(json == NULL);

  custody_key_free(key);
  /* A freed handle is refused; freeing it again is ignored. */
  CHECK(custody_key_public(key, &json) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(custody_ingest(argv[2], argv[3], key, NULL, NULL, NULL, &json) ==
        CUSTODY_STATUS_INVALID_ARGUMENT);
  custody_key_free(key);
  puts("ingest_verify: ok");
  return 0;
}
