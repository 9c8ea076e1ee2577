/* Prints the probe JSON of each file named on the command line.
 *   gcc probe.c $(pkg-config --cflags --libs custody) -o probe && ./probe CLIP.MP4 */
#include <custody.h>
#include <stdio.h>

int main(int argc, char **argv) {
  int failed = 0;
  for (int i = 1; i < argc; i++) {
    char *json = NULL;
    custody_status s = custody_probe(argv[i], CUSTODY_PROBE_NO_MMAP, &json);
    if (s == CUSTODY_STATUS_OK) {
      puts(json);
      custody_string_free(json);
    } else {
      fprintf(stderr, "%s: %s\n", argv[i], custody_last_error());
      failed = 1;
    }
  }
  return failed;
}
