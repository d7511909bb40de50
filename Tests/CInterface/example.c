// Trains an LSTM classifier through RNNKit's C interface, then predicts,
// saves, reloads and reads a weight by PyTorch name.
//
// The task: sequences of 2 to 24 steps of 3 features; the class says whether
// the first feature sums to more than zero over the sequence's valid steps.
//
//   cc -std=c11 -I Sources/CInterface/Header/include Tests/CInterface/example.c
//      -L .build/release -lRNNKitC -Wl,-rpath,$PWD/.build/release -o example
//   ./example /tmp/classifier.safetensors
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rnnkit.h"

enum { COUNT = 512, STEPS = 24, FEATURES = 3, CLASSES = 2, HIDDEN = 32 };

// Stops the program with RNNKit's message when a call fails.
static void check(rnnkit_status status, const char *call) {
    if (status != RNNKIT_OK) {
        fprintf(stderr, "%s failed (status %d): %s\n", call, (int)status, rnnkit_last_error());
        exit(1);
    }
}

static float uniform(uint64_t *state) {
    *state = *state * 6364136223846793005u + 1442695040888963407u;
    return (float)((*state >> 40) / (double)(1u << 24)) * 2.0f - 1.0f;
}

// Fills `count` sequences and their classes, drawn from `seed`.
static void make_data(uint64_t seed, float *features, int32_t *lengths, int32_t *classes, int count) {
    for (int n = 0; n < count; n++) {
        lengths[n] = 2 + (int32_t)((uniform(&seed) + 1.0f) * 0.5f * (STEPS - 2));
        if (lengths[n] > STEPS) lengths[n] = STEPS;
        float sum = 0;
        for (int t = 0; t < STEPS; t++)
            for (int f = 0; f < FEATURES; f++) {
                float value = uniform(&seed);
                features[(n * STEPS + t) * FEATURES + f] = value;
                if (f == 0 && t < lengths[n]) sum += value;
            }
        classes[n] = sum > 0;
    }
}

static int32_t report(const rnnkit_progress *progress, void *user_data) {
    (void)user_data;
    if (progress->step % 100 == 0 || progress->is_final)
        printf("step %lld  loss %.4f\n", (long long)progress->step, progress->smoothed_loss);
    return 0;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "classifier.safetensors";
    printf("RNNKit %u (header %d)\n", rnnkit_version(), RNNKIT_VERSION);

    static float features[COUNT * STEPS * FEATURES], test_features[COUNT * STEPS * FEATURES];
    static int32_t lengths[COUNT], classes[COUNT], test_lengths[COUNT], test_classes[COUNT];
    make_data(1, features, lengths, classes, COUNT);
    make_data(2, test_features, test_lengths, test_classes, COUNT);

    rnnkit_model_config config;
    rnnkit_model_config_init(&config);
    config.cell = RNNKIT_CELL_LSTM;
    config.input_size = FEATURES;
    config.hidden_size = HIDDEN;
    config.output_size = CLASSES;
    config.topology = RNNKIT_MANY_TO_ONE;
    rnnkit_model *model;
    check(rnnkit_model_create(&config, 7, &model), "rnnkit_model_create");

    rnnkit_batch training = {
        .count = COUNT, .time_steps = STEPS,
        .features = features, .features_count = COUNT * STEPS * FEATURES,
        .lengths = lengths, .target_classes = classes, .target_classes_count = COUNT,
    };
    rnnkit_training_settings settings;
    rnnkit_training_settings_init(&settings);
    settings.learning_rate = 1e-2f;
    settings.batch_size = 64;
    settings.steps = 300;
    settings.clipping = RNNKIT_CLIP_NORM;
    settings.clip_limit = 1.0f;
    rnnkit_summary summary;
    check(rnnkit_train(model, &settings, &training, NULL, report, NULL, &summary), "rnnkit_train");
    printf("trained %lld steps, %.0f sequences/s\n", (long long)summary.steps, summary.sequences_per_second);

    // Predicts the held-out sequences: [COUNT, CLASSES] scores.
    rnnkit_batch test = {
        .count = COUNT, .time_steps = STEPS,
        .features = test_features, .features_count = COUNT * STEPS * FEATURES, .lengths = test_lengths,
    };
    int64_t outputs_count, hidden_count, cell_count;
    check(rnnkit_model_output_counts(model, COUNT, STEPS, 0, &outputs_count, &hidden_count, &cell_count),
          "rnnkit_model_output_counts");
    float *outputs = malloc(sizeof(float) * (size_t)outputs_count);
    check(rnnkit_model_predict(model, &test, 0, outputs, outputs_count, NULL, 0, NULL, 0), "rnnkit_model_predict");
    int correct = 0;
    for (int n = 0; n < COUNT; n++) correct += (outputs[n * CLASSES + 1] > outputs[n * CLASSES]) == test_classes[n];
    printf("test accuracy %.3f\n", correct / (double)COUNT);

    // The file holds the same model: its predictions are the same bits.
    check(rnnkit_model_save(model, path), "rnnkit_model_save");
    rnnkit_model *loaded;
    check(rnnkit_model_load(path, &loaded), "rnnkit_model_load");
    float *reloaded = malloc(sizeof(float) * (size_t)outputs_count);
    check(rnnkit_model_predict(loaded, &test, 0, reloaded, outputs_count, NULL, 0, NULL, 0), "rnnkit_model_predict");
    int same = memcmp(outputs, reloaded, sizeof(float) * (size_t)outputs_count) == 0;
    printf("reloaded model predicts the same: %s\n", same ? "yes" : "no");

    int64_t shape[2];
    int32_t rank;
    check(rnnkit_model_parameter_shape(loaded, "rnn.weight_hh_l0", shape, 2, &rank), "rnnkit_model_parameter_shape");
    printf("rnn.weight_hh_l0 is [%lld, %lld]\n", (long long)shape[0], (long long)shape[1]);

    free(outputs);
    free(reloaded);
    rnnkit_model_free(loaded);
    rnnkit_model_free(model);
    return same && correct > COUNT * 8 / 10 ? 0 : 1;
}
