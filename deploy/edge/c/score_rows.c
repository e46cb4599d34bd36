/* A tiny scorer around the C code that tl2cgen generates for a tree ensemble (header.h, main.c, ...).
 *
 * Reads rows of features as text from stdin (whitespace-separated, get_num_feature() numbers per row).
 *   score_rows        prints "p0 p1" for every row (the class probabilities, full double precision);
 *   score_rows R      scores all rows R times and prints the mean seconds per row (a speed test).
 * Each value is rounded to float32 first, exactly as the ONNX graph and scikit-learn see it.
 * Build: gcc -O2 -s -o score_rows score_rows.c main.c quantize.c tu0.c -lm
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "header.h"

static float* read_rows(int n_features, int* n_rows) {
  size_t capacity = 1024, count = 0;
  float* values = malloc(capacity * sizeof *values);
  double value;
  while (values && scanf("%lf", &value) == 1) {
    if (count == capacity) {
      capacity *= 2;
      float* grown = realloc(values, capacity * sizeof *values);
      if (!grown) { free(values); return NULL; }
      values = grown;
    }
    values[count++] = (float)value;
  }
  if (!values || count % (size_t)n_features != 0) { free(values); return NULL; }
  *n_rows = (int)(count / (size_t)n_features);
  return values;
}

static void score(const float* x, int n_features, union Entry* row, double* result) {
  for (int j = 0; j < n_features; ++j) row[j].fvalue = (double)x[j];
  for (int k = 0; k < MAX_N_CLASS; ++k) result[k] = 0.0;
  predict(row, 0, result);
}

int main(int argc, char** argv) {
  int repeats = argc > 1 ? atoi(argv[1]) : 0;
  int n_features = get_num_feature(), n_rows = 0;
  float* x = read_rows(n_features, &n_rows);
  union Entry* row = malloc((size_t)n_features * sizeof *row);
  double result[MAX_N_CLASS];
  if (!x || !row || n_rows == 0) {
    fprintf(stderr, "expected rows of %d numbers on stdin\n", n_features);
    return 2;
  }
  if (repeats <= 0) {
    for (int i = 0; i < n_rows; ++i) {
      score(x + (size_t)i * n_features, n_features, row, result);
      printf("%.17g %.17g\n", result[0], result[1]);
    }
    return 0;
  }
  volatile double sink = 0.0;
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int r = 0; r < repeats; ++r) {
    for (int i = 0; i < n_rows; ++i) {
      score(x + (size_t)i * n_features, n_features, row, result);
      sink += result[1];
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  double seconds = (double)(end.tv_sec - start.tv_sec) + 1e-9 * (double)(end.tv_nsec - start.tv_nsec);
  printf("%.9g\n", seconds / ((double)repeats * n_rows));
  return 0;
}
