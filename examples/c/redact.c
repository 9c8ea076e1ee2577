/* Redaction with a detector written in C: here anything brighter than a
 * threshold in the luma plane is masked, a stand-in for a real model.
 * Needs a library built with redaction (CUSTODY_FEATURES=redact
 * scripts/install-c.sh PREFIX). Prints the redaction log.
 * Usage: redact IN.mp4 OUT.mp4 */
#include <custody.h>
#include <stdio.h>

/* Called for each picture: writes at most `cap` detections into `out`. */
static int bright(void *user, const custody_frame *f, custody_detection *out, size_t cap,
                  size_t *n, char *message, size_t message_cap) {
  const int threshold = *(const int *)user;
  uint32_t x0 = f->width, y0 = f->height, x1 = 0, y1 = 0;
  for (uint32_t y = 0; y < f->height; y++) {
    const uint8_t *row = f->planes[0] + y * f->strides[0];
    for (uint32_t x = 0; x < f->width; x++) {
      if (row[x] > threshold) {
        if (x < x0) x0 = x;
        if (x + 1 > x1) x1 = x + 1;
        if (y < y0) y0 = y;
        if (y + 1 > y1) y1 = y + 1;
      }
    }
  }
  *n = 0;
  if (x1 > x0 && cap > 0) {
    out[0] = (custody_detection){.kind = CUSTODY_CLASS_SCREEN,
                                 .x0 = (float)x0, .y0 = (float)y0,
                                 .x1 = (float)x1, .y1 = (float)y1,
                                 .score = 1.0f};
    *n = 1;
  }
  (void)message; /* a non-zero return may explain itself here */
  (void)message_cap;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s IN.mp4 OUT.mp4\n", argv[0]);
    return 2;
  }
  int threshold = 200;
  custody_detector d = {.name = "bright", .detect = bright, .user = &threshold};
  char *log = NULL;
  custody_status s = custody_redact(argv[1], argv[2], "{\"mask\": \"fill\"}", &d, 1, NULL, NULL,
                                    &log);
  if (s != CUSTODY_STATUS_OK) {
    fprintf(stderr, "redact: %s\n", custody_last_error());
    return 1;
  }
  puts(log);
  custody_string_free(log);
  return 0;
}
