/* Probing from C: a file, bytes in memory, the box tree, strict mode and
 * its error offset. Arguments: a good MP4, a damaged MP4. */
#include "check.h"

int main(int argc, char **argv) {
  CHECK(argc == 3);
  CHECK(custody_abi_version() == CUSTODY_ABI_VERSION);
  CHECK(strlen(custody_version()) > 0);

  char *json = NULL;
  CHECK(custody_probe(argv[1], 0, &json) == CUSTODY_STATUS_OK);
  CONTAINS(json, "\"container\":\"mp4\"");
  CONTAINS(json, "\"codec\":\"h264\"");
  custody_string_free(json);

  CHECK(custody_probe(argv[1], CUSTODY_PROBE_BOXES | CUSTODY_PROBE_NO_MMAP, &json) ==
        CUSTODY_STATUS_OK);
  CONTAINS(json, "\"type\":\"moov\"");
  custody_string_free(json);

  /* The same bytes, held by the caller. */
  FILE *f = fopen(argv[1], "rb");
  CHECK(f != NULL);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n);
  CHECK(buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n);
  fclose(f);
  CHECK(custody_probe_bytes(buf, (size_t)n, CUSTODY_PROBE_SAMPLES, &json) == CUSTODY_STATUS_OK);
  CONTAINS(json, "\"samples\"");
  custody_string_free(json);
  free(buf);

  /* Strict mode turns the damage into an error with its byte offset. */
  CHECK(custody_probe(argv[2], 0, &json) == CUSTODY_STATUS_OK);
  CONTAINS(json, "\"warnings\":[{");
  custody_string_free(json);
  CHECK(custody_probe(argv[2], CUSTODY_PROBE_STRICT, &json) == CUSTODY_STATUS_PARSE);
  CHECK(json == NULL);
  CHECK(custody_last_error() != NULL);
  CHECK(custody_last_error_offset() >= 0);

  /* A missing file. */
  CHECK(custody_probe("/no/such/file.mp4", 0, &json) == CUSTODY_STATUS_IO);
  CONTAINS(custody_last_error(), "No such file");
  CHECK(custody_last_error_offset() == -1);
  puts("probe: ok");
  return 0;
}
