/* Misuse never crashes: null pointers, text that is not UTF-8, handles
 * that were never handles. No arguments. */
#include "check.h"

int main(void) {
  char *json = (char *)1;
  CHECK(custody_probe(NULL, 0, &json) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(json == NULL);
  CHECK(custody_probe("x", 0, NULL) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(custody_probe_bytes(NULL, 10, 0, &json) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(custody_probe_bytes(NULL, 0, 0, &json) == CUSTODY_STATUS_PARSE);
  CHECK(custody_hash(NULL, 0, NULL, NULL, NULL, &json) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(custody_locate("a", NULL, &json) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(custody_verify("/tmp", "{\"fast\":\"\xff\"}", &json) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CONTAINS(custody_last_error(), "UTF-8");
  CHECK(custody_verify("/tmp", "not json", &json) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(custody_report(NULL, NULL, &json) == CUSTODY_STATUS_INVALID_ARGUMENT);

  int not_a_key = 42;
  CHECK(custody_key_public((custody_key *)&not_a_key, &json) == CUSTODY_STATUS_INVALID_ARGUMENT);
  custody_key_free((custody_key *)&not_a_key); /* ignored */
  custody_key_free(NULL);
  custody_key *key = (custody_key *)1;
  CHECK(custody_key_load("/no/such/station.key", &key) == CUSTODY_STATUS_KEY);
  CHECK(key == NULL);
  CHECK(custody_key_load(NULL, NULL) == CUSTODY_STATUS_INVALID_ARGUMENT);
  custody_string_free(NULL);

  puts("errors: ok");
  return 0;
}
