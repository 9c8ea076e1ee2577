/* Redaction from C with a detector written in C: it finds the bright
 * square of the test clip by thresholding the luma plane; custody_detect
 * lists it, custody_redact masks it. Then what goes wrong: a detector that
 * fails, a cancelled job, detections that cannot be used, misuse. Needs a
 * library built with redaction (CUSTODY_REDACT).
 * Arguments: the clip (320x240 at 25 fps, a 48x48 white square on a
 * darker background), an empty folder. Writes there detect.json,
 * redact.json (what the library returned) and redacted.mp4. */
#define _POSIX_C_SOURCE 200809L /* access() */
#include "check.h"
#include <math.h>
#include <unistd.h>

#ifndef CUSTODY_REDACT
#error "the library's pkg-config Cflags must define CUSTODY_REDACT"
#endif

#define MODEL "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* What the square finder saw. */
typedef struct {
  unsigned calls;
  unsigned every;   /* the job looks at every `every`-th picture */
  uint64_t next;    /* the picture number expected next */
  unsigned bad;     /* pictures whose description was not as expected */
  long fail_at;     /* fail on this picture (-1: never) */
} finder;

/* Checks the picture is described as the clip is, and reads the last
 * sample of every plane (valgrind and ASan see any read past them). */
static void check_frame(finder *s, const custody_frame *f) {
  int ok = f->width == 320 && f->height == 240 && f->format == CUSTODY_PIXEL_FORMAT_YUV420P &&
           f->planes[0] && f->planes[1] && f->planes[2] && f->strides[0] >= 320 &&
           f->strides[1] >= 160 && f->strides[2] >= 160 && f->index == s->next &&
           fabs(f->time - (double)f->index / 25.0) < 0.01;
  if (ok) {
    volatile uint8_t last = f->planes[0][239 * f->strides[0] + 319];
    last = f->planes[1][119 * f->strides[1] + 159];
    last = f->planes[2][119 * f->strides[2] + 159];
    (void)last;
  } else {
    s->bad++;
  }
  s->next = f->index + s->every;
}

/* The detector: the bounding box of the luma samples over 200. */
static int find_square(void *user, const custody_frame *f, custody_detection *out, size_t cap,
                       size_t *n, char *message, size_t message_cap) {
  finder *s = user;
  s->calls++;
  check_frame(s, f);
  if (s->fail_at >= 0 && f->index == (uint64_t)s->fail_at) {
    snprintf(message, message_cap, "lens covered");
    return 3;
  }
  uint32_t x0 = f->width, y0 = f->height, x1 = 0, y1 = 0;
  for (uint32_t y = 0; y < f->height; y++) {
    const uint8_t *row = f->planes[0] + y * f->strides[0];
    for (uint32_t x = 0; x < f->width; x++) {
      if (row[x] > 200) {
        if (x < x0) x0 = x;
        if (y < y0) y0 = y;
        if (x + 1 > x1) x1 = x + 1;
        if (y + 1 > y1) y1 = y + 1;
      }
    }
  }
  *n = 0;
  if (x1 > 0 && cap >= 1) {
    out[0].kind = CUSTODY_CLASS_CUSTOM;
    snprintf(out[0].label, CUSTODY_LABEL_SIZE, "square");
    out[0].x0 = (float)x0;
    out[0].y0 = (float)y0;
    out[0].x1 = (float)x1;
    out[0].y1 = (float)y1;
    out[0].score = 1.0f;
    *n = 1;
  }
  return 0;
}

/* Detections that cannot be used (or, for OUTSIDE, must be clipped). */
enum hostile { OVER_CAP, NOT_FINITE, INVERTED, SCORE, CLASS, LABEL, EMPTY_LABEL, OUTSIDE };

static int hostile(void *user, const custody_frame *f, custody_detection *out, size_t cap,
                   size_t *n, char *message, size_t message_cap) {
  (void)f;
  (void)message;
  (void)message_cap;
  enum hostile mode = *(enum hostile *)user;
  custody_detection d = {CUSTODY_CLASS_FACE, {0}, 10, 10, 20, 20, 0.5f};
  *n = 1;
  switch (mode) {
    case OVER_CAP:
      for (size_t i = 0; i < cap; i++) out[i] = d;
      *n = cap + 1;
      return 0;
    case NOT_FINITE: d.x1 = NAN; break;
    case INVERTED: d.y1 = 5; break;
    case SCORE: d.score = 1.5f; break;
    case CLASS: d.kind = 99; break;
    case LABEL:
      d.kind = CUSTODY_CLASS_CUSTOM;
      memset(d.label, 'A', sizeof d.label);
      break;
    case EMPTY_LABEL: d.kind = CUSTODY_CLASS_CUSTOM; break;
    case OUTSIDE:
      d.x0 = -50;
      d.y0 = -40;
      d.x1 = 1000;
      d.y1 = 2000;
      break;
  }
  out[0] = d;
  return 0;
}

/* Progress: the phases seen; cancels on reaching `cancel_in` (-1: never). */
typedef struct {
  unsigned seen;
  int cancel_in;
} watcher;

static int32_t watch(void *user, custody_phase phase, double done, double total) {
  watcher *w = user;
  if (!(done >= 0 && total >= 0)) return 1; /* never: cancels, and the test fails */
  w->seen |= 1u << phase;
  return (int)phase == w->cancel_in;
}

static void save(const char *dir, const char *name, const char *text) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  CHECK(fputs(text, f) >= 0);
  CHECK(fclose(f) == 0);
}

static int exists(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return access(path, F_OK) == 0;
}

static custody_detector square_detector(finder *s) {
  custody_detector d = {"square", MODEL, find_square, s, 0};
  return d;
}

int main(int argc, char **argv) {
  CHECK(argc == 3);
  const char *clip = argv[1], *dir = argv[2];
  char out[4096], failed[4096], cancelled[4096];
  snprintf(out, sizeof out, "%s/redacted.mp4", dir);
  snprintf(failed, sizeof failed, "%s/failed.mp4", dir);
  snprintf(cancelled, sizeof cancelled, "%s/cancelled.mp4", dir);
  char *json = NULL;

  /* Detection: every picture, in order, each with the square. */
  finder s = {0, 1, 0, 0, -1};
  custody_detector det = square_detector(&s);
  CHECK(custody_detect(clip, NULL, &det, 1, NULL, NULL, &json) == CUSTODY_STATUS_OK);
  CHECK(s.calls == 50 && s.bad == 0);
  CONTAINS(json, "\"detector\":\"square\"");
  save(dir, "detect.json", json);
  custody_string_free(json);

  /* Every fifth picture. */
  finder s5 = {0, 5, 0, 0, -1};
  det = square_detector(&s5);
  CHECK(custody_detect(clip, "{\"every\": 5}", &det, 1, NULL, NULL, &json) == CUSTODY_STATUS_OK);
  CHECK(s5.calls == 10 && s5.bad == 0);
  custody_string_free(json);

  /* Redaction with a solid fill, followed phase by phase. */
  finder r = {0, 1, 0, 0, -1};
  det = square_detector(&r);
  watcher w = {0, -1};
  CHECK(custody_redact(clip, out, "{\"mask\": \"fill\", \"preset\": \"ultrafast\", \"crf\": 18}",
                       &det, 1, watch, &w, &json) == CUSTODY_STATUS_OK);
  CHECK(r.calls == 50 && r.bad == 0);
  CHECK(w.seen & (1u << CUSTODY_PHASE_DETECT));
  CHECK(w.seen & (1u << CUSTODY_PHASE_WRITE));
  CONTAINS(json, "\"detector\":\"square\"");
  CONTAINS(json, "\"ok\":true");
  save(dir, "redact.json", json);
  custody_string_free(json);
  CHECK(exists(dir, "redacted.mp4") && exists(dir, "redacted.mp4.redaction.json"));

  /* The output exists: refused, and left as it was. */
  json = (char *)1;
  CHECK(custody_redact(clip, out, NULL, &det, 1, NULL, NULL, &json) ==
        CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(json == NULL);
  CONTAINS(custody_last_error(), "already exists");

  /* A detector that fails on picture 7: an error naming it and the
   * picture, and nothing written. */
  finder f7 = {0, 1, 0, 0, 7};
  det = square_detector(&f7);
  det.name = "failing";
  json = (char *)1;
  CHECK(custody_redact(clip, failed, NULL, &det, 1, NULL, NULL, &json) ==
        CUSTODY_STATUS_DETECTOR);
  CHECK(json == NULL);
  CONTAINS(custody_last_error(), "\"failing\"");
  CONTAINS(custody_last_error(), "picture 7");
  CONTAINS(custody_last_error(), "returned 3");
  CONTAINS(custody_last_error(), "lens covered");
  CHECK(f7.calls == 8);
  CHECK(!exists(dir, "failed.mp4") && !exists(dir, "failed.mp4.redaction.json") &&
        !exists(dir, "failed.mp4.tracks.csv"));

  /* Cancelled while writing the copy: nothing is left. */
  finder c = {0, 1, 0, 0, -1};
  det = square_detector(&c);
  watcher wc = {0, CUSTODY_PHASE_WRITE};
  json = (char *)1;
  CHECK(custody_redact(clip, cancelled, "{\"preset\": \"ultrafast\"}", &det, 1, watch, &wc,
                       &json) == CUSTODY_STATUS_CANCELLED);
  CHECK(json == NULL);
  CONTAINS(custody_last_error(), "cancelled");
  CHECK(c.calls == 50 && (wc.seen & (1u << CUSTODY_PHASE_WRITE)));
  CHECK(!exists(dir, "cancelled.mp4") && !exists(dir, "cancelled.mp4.redaction.json"));

  /* Cancelled while detecting. */
  finder cd = {0, 1, 0, 0, -1};
  det = square_detector(&cd);
  watcher wd = {0, CUSTODY_PHASE_DETECT};
  CHECK(custody_detect(clip, NULL, &det, 1, watch, &wd, &json) == CUSTODY_STATUS_CANCELLED);
  CHECK(json == NULL);
  CONTAINS(custody_last_error(), "cancelled");

  /* Detections that cannot be used fail on the first picture, naming the
   * detector, the picture and what is wrong. */
  struct {
    enum hostile mode;
    const char *says;
  } bad[] = {
      {OVER_CAP, "reported 3 detections with room for 2"},
      {NOT_FINITE, "not finite"},
      {INVERTED, "ends before it starts"},
      {SCORE, "score 1.5 is not 0 to 1"},
      {CLASS, "class 99 is not a custody_class"},
      {LABEL, "not NUL-terminated"},
      {EMPTY_LABEL, "label is empty"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    custody_detector h = {"hostile", NULL, hostile, &bad[i].mode, 2};
    json = (char *)1;
    CHECK(custody_detect(clip, NULL, &h, 1, NULL, NULL, &json) == CUSTODY_STATUS_DETECTOR);
    CHECK(json == NULL);
    CONTAINS(custody_last_error(), "\"hostile\"");
    CONTAINS(custody_last_error(), "picture 0");
    CONTAINS(custody_last_error(), bad[i].says);
  }
  /* A box reaching outside the picture is clipped to it. */
  enum hostile outside = OUTSIDE;
  custody_detector h = {"outside", NULL, hostile, &outside, 0};
  CHECK(custody_detect(clip, "{\"every\": 25}", &h, 1, NULL, NULL, &json) == CUSTODY_STATUS_OK);
  CONTAINS(json, "\"box\":{\"x0\":0.0,\"x1\":320.0,\"y0\":0.0,\"y1\":240.0}");
  custody_string_free(json);

  /* Misuse: refused before anything is decoded. */
  finder m = {0, 1, 0, 0, -1};
  custody_detector two[2] = {square_detector(&m), square_detector(&m)};
  CHECK(custody_detect(clip, NULL, two, 2, NULL, NULL, &json) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CONTAINS(custody_last_error(), "two detectors are named \"square\"");
  CHECK(custody_detect(clip, NULL, NULL, 1, NULL, NULL, &json) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(custody_detect(clip, NULL, NULL, 0, NULL, NULL, &json) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CONTAINS(custody_last_error(), "no detector");
  det = square_detector(&m);
  CHECK(custody_detect(clip, NULL, &det, 1, NULL, NULL, NULL) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(custody_detect(NULL, NULL, &det, 1, NULL, NULL, &json) == CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(custody_redact(clip, NULL, NULL, &det, 1, NULL, NULL, &json) ==
        CUSTODY_STATUS_INVALID_ARGUMENT);
  const char *bad_options[] = {"{\"every\": 0}", "{\"mask\": \"spray\"}", "{\"crf\": 300}",
                               "{\"colour\": 1}", "{\"detect_width\": 8}", "not json"};
  for (size_t i = 0; i < sizeof bad_options / sizeof bad_options[0]; i++) {
    CHECK(custody_redact(clip, failed, bad_options[i], &det, 1, NULL, NULL, &json) ==
          CUSTODY_STATUS_INVALID_ARGUMENT);
  }
  custody_detector broken = det;
  broken.detect = NULL;
  CHECK(custody_detect(clip, NULL, &broken, 1, NULL, NULL, &json) ==
        CUSTODY_STATUS_INVALID_ARGUMENT);
  broken = det;
  broken.name = NULL;
  CHECK(custody_detect(clip, NULL, &broken, 1, NULL, NULL, &json) ==
        CUSTODY_STATUS_INVALID_ARGUMENT);
  broken = det;
  broken.name = "\xff";
  CHECK(custody_detect(clip, NULL, &broken, 1, NULL, NULL, &json) ==
        CUSTODY_STATUS_INVALID_ARGUMENT);
  broken = det;
  broken.model_sha256 = "not hex";
  CHECK(custody_detect(clip, NULL, &broken, 1, NULL, NULL, &json) ==
        CUSTODY_STATUS_INVALID_ARGUMENT);
  broken = det;
  broken.max_detections = CUSTODY_DETECTIONS_MAX + 1;
  CHECK(custody_detect(clip, NULL, &broken, 1, NULL, NULL, &json) ==
        CUSTODY_STATUS_INVALID_ARGUMENT);
  CHECK(m.calls == 0);
  CHECK(custody_detect("/no/such/clip.mp4", NULL, &det, 1, NULL, NULL, &json) !=
        CUSTODY_STATUS_OK);
  CHECK(!exists(dir, "failed.mp4"));

  puts("redact: ok");
  return 0;
}
