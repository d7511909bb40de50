// RNNKit's C interface on bad input: every failure is a status code with a
// message that names what was wrong, and nothing crashes or leaks a file.
// mkstemp, unistd.h
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rnnkit.h"

static int failures = 0;

// Checks that `status` is `expected` and the thread's message contains `words`.
#define EXPECT(call, expected, words) expect((call), (expected), (words), #call, __LINE__)
static void expect(rnnkit_status status, rnnkit_status expected, const char *words, const char *call, int line) {
    const char *message = rnnkit_last_error();
    if (status != expected || (expected != RNNKIT_OK && !strstr(message, words))) {
        fprintf(stderr, "line %d: %s\n  returned %d (expected %d), message \"%s\" (expected \"%s\")\n", line, call,
                (int)status, (int)expected, message, words);
        failures++;
    }
}

static rnnkit_model *small_model(int32_t cell) {
    rnnkit_model_config config;
    rnnkit_model_config_init(&config);
    config.cell = cell;
    config.input_size = 2;
    config.hidden_size = 4;
    config.output_size = 3;
    rnnkit_model *model = NULL;
    EXPECT(rnnkit_model_create(&config, 1, &model), RNNKIT_OK, "");
    return model;
}

static int32_t stop_at_three(const rnnkit_progress *progress, void *user_data) {
    *(int64_t *)user_data = progress->step;
    return progress->step >= 3;
}

// Each thread sees its own last error.
static void *fail_on_other_thread(void *unused) {
    (void)unused;
    rnnkit_model *model;
    rnnkit_status status = rnnkit_model_load("/nonexistent/other-thread.safetensors", &model);
    return (void *)(intptr_t)(status == RNNKIT_ERROR_FILE && strstr(rnnkit_last_error(), "other-thread"));
}

int main(void) {
    EXPECT(rnnkit_version() / 10000 == RNNKIT_VERSION_MAJOR ? RNNKIT_OK : -1, RNNKIT_OK, "");

    // Configurations.
    rnnkit_model_config config;
    rnnkit_model_config_init(&config);
    rnnkit_model *model = NULL;
    EXPECT(rnnkit_model_create(NULL, 0, &model), RNNKIT_ERROR_NULL_POINTER, "config is NULL");
    EXPECT(rnnkit_model_create(&config, 0, NULL), RNNKIT_ERROR_NULL_POINTER, "model is NULL");
    EXPECT(rnnkit_model_create(&config, 0, &model), RNNKIT_ERROR_INVALID_ARGUMENT, "hidden_size must be positive");
    config.input_size = 2, config.hidden_size = 4, config.output_size = 3;
    config.cell = 99;
    EXPECT(rnnkit_model_create(&config, 0, &model), RNNKIT_ERROR_INVALID_ARGUMENT, "cell is 99");
    config.cell = RNNKIT_CELL_GRU;
    config.hidden_size = -5;
    EXPECT(rnnkit_model_create(&config, 0, &model), RNNKIT_ERROR_INVALID_ARGUMENT, "hidden_size is -5");
    config.hidden_size = 4;
    config.struct_size = 8;
    EXPECT(rnnkit_model_create(&config, 0, &model), RNNKIT_ERROR_INVALID_ARGUMENT, "struct_size 8");
    config.struct_size = sizeof config;
    config.vocabulary = "\xff\xfe";
    EXPECT(rnnkit_model_create(&config, 0, &model), RNNKIT_ERROR_INVALID_ARGUMENT, "vocabulary is not UTF-8");
    config.vocabulary = NULL;
    config.proj_size = 2;
    EXPECT(rnnkit_model_create(&config, 0, &model), RNNKIT_ERROR_INVALID_ARGUMENT, "proj_size applies to lstm only");
    config.cell = RNNKIT_CELL_LSTM;
    config.proj_size = 4;
    EXPECT(rnnkit_model_create(&config, 0, &model), RNNKIT_ERROR_INVALID_ARGUMENT, "below hidden_size");
    config.proj_size = 0;
    config.dropout = 1;
    EXPECT(rnnkit_model_create(&config, 0, &model), RNNKIT_ERROR_INVALID_ARGUMENT, "dropout must be");
    config.dropout = 0;
    EXPECT(model == NULL ? RNNKIT_OK : -1, RNNKIT_OK, "");
    {
        // A projected LSTM's final hidden state is proj_size wide, its cell state hidden_size.
        config.proj_size = 3, config.num_layers = 2, config.bidirectional = 1, config.dropout = 0.25f;
        EXPECT(rnnkit_model_create(&config, 0, &model), RNNKIT_OK, "");
        int64_t outputs = 0, hidden = 0, cell = 0;
        EXPECT(rnnkit_model_output_counts(model, 5, 7, 0, &outputs, &hidden, &cell), RNNKIT_OK, "");
        EXPECT(hidden == 4 * 5 * 3 && cell == 4 * 5 * 4 ? RNNKIT_OK : -1, RNNKIT_OK, "");
        rnnkit_model_config read;
        rnnkit_model_config_init(&read);
        EXPECT(rnnkit_model_get_config(model, &read), RNNKIT_OK, "");
        EXPECT(read.proj_size == 3 && read.dropout == 0.25f ? RNNKIT_OK : -1, RNNKIT_OK, "");
        rnnkit_model_free(model);
        model = NULL;
        config.dropout = 0;
    }
    config.proj_size = 0, config.num_layers = 1, config.bidirectional = 0, config.cell = RNNKIT_CELL_GRU;

    // Files: missing, not safetensors, and a save into a missing folder that leaves nothing behind.
    EXPECT(rnnkit_model_load(NULL, &model), RNNKIT_ERROR_NULL_POINTER, "path is NULL");
    EXPECT(rnnkit_model_load("/nonexistent/model.safetensors", &model), RNNKIT_ERROR_FILE, "model.safetensors");
    char garbage[] = "/tmp/rnnkit-c-garbage-XXXXXX";
    int descriptor = mkstemp(garbage);
    if (write(descriptor, "not a model at all", 18) != 18) failures++;
    close(descriptor);
    EXPECT(rnnkit_model_load(garbage, &model), RNNKIT_ERROR_FORMAT, garbage);
    rnnkit_data *data = NULL;
    EXPECT(rnnkit_data_load(garbage, &data), RNNKIT_ERROR_FORMAT, garbage);
    unlink(garbage);
    EXPECT(rnnkit_data_load("/nonexistent/set_TRAIN.ts", &data), RNNKIT_ERROR_FILE, "set_TRAIN.ts");

    model = small_model(RNNKIT_CELL_GRU);
    EXPECT(rnnkit_model_save(model, "/nonexistent/folder/model.safetensors"), RNNKIT_ERROR_FILE, "/nonexistent");
    EXPECT(access("/nonexistent/folder/model.safetensors", F_OK) != 0 ? RNNKIT_OK : -1, RNNKIT_OK, "");

    // Parameters by name.
    float values[64];
    int64_t shape[4];
    int32_t rank;
    const char *name;
    EXPECT(rnnkit_model_get_parameter(model, "rnn.weight_ih_l7", values, 24), RNNKIT_ERROR_NOT_FOUND, "rnn.weight_ih_l7");
    EXPECT(rnnkit_model_get_parameter(model, "rnn.weight_ih_l0", values, 5), RNNKIT_ERROR_DATA_MISMATCH, "holds 5");
    EXPECT(rnnkit_model_get_parameter(model, "rnn.weight_ih_l0", values, 24), RNNKIT_OK, "");
    EXPECT(rnnkit_model_parameter_shape(model, "rnn.weight_ih_l0", shape, 4, &rank), RNNKIT_OK, "");
    EXPECT(rank == 2 && shape[0] == 12 && shape[1] == 2 ? RNNKIT_OK : -1, RNNKIT_OK, "");
    EXPECT(rnnkit_model_parameter_name(model, 99, &name), RNNKIT_ERROR_NOT_FOUND, "index 99");
    EXPECT(rnnkit_model_kernels(model, NULL), RNNKIT_ERROR_NULL_POINTER, "name");
    EXPECT(rnnkit_model_kernels(NULL, &name), RNNKIT_ERROR_NULL_POINTER, "model");
    EXPECT(rnnkit_model_kernels(model, &name), RNNKIT_OK, "");
    EXPECT(strcmp(name, "avx512") == 0 || strcmp(name, "avx2") == 0 || strcmp(name, "baseline") == 0
               || strcmp(name, "neon") == 0 ? RNNKIT_OK : -1,
           RNNKIT_OK, "");
    values[3] = NAN;
    EXPECT(rnnkit_model_set_parameter(model, "rnn.weight_ih_l0", values, 24), RNNKIT_ERROR_DATA_MISMATCH, "non-finite");
    EXPECT(rnnkit_model_set_parameter(model, "rnn.weight_ih_l0", NULL, 24), RNNKIT_ERROR_NULL_POINTER, "values");

    // Batches that do not fit.
    float features[4 * 5 * 2] = {0};
    int32_t classes[4] = {0, 1, 2, 1}, lengths[4] = {5, 3, 9, 1};
    rnnkit_batch batch = {
        .count = 4, .time_steps = 5, .features = features, .features_count = 39,
        .target_classes = classes, .target_classes_count = 4,
    };
    float outputs[12];
    EXPECT(rnnkit_model_predict(model, &batch, 0, outputs, 12, NULL, 0, NULL, 0), RNNKIT_ERROR_DATA_MISMATCH,
           "inputs hold 39 floats, expected 4 x 5 x 2");
    batch.features_count = 40;
    EXPECT(rnnkit_model_predict(model, &batch, 0, outputs, 11, NULL, 0, NULL, 0), RNNKIT_ERROR_DATA_MISMATCH,
           "outputs holds 11 floats");
    batch.lengths = lengths;
    EXPECT(rnnkit_model_predict(model, &batch, 0, outputs, 12, NULL, 0, NULL, 0), RNNKIT_ERROR_DATA_MISMATCH,
           "sequence 2 has length 9");
    lengths[2] = 4;
    EXPECT(rnnkit_model_predict(model, &batch, 0, outputs, 12, NULL, 0, NULL, 0), RNNKIT_OK, "");
    EXPECT(rnnkit_model_predict(model, &batch, -2, outputs, 12, NULL, 0, NULL, 0), RNNKIT_ERROR_INVALID_ARGUMENT,
           "threads is -2");
    batch.features = NULL;
    EXPECT(rnnkit_model_predict(model, &batch, 0, outputs, 12, NULL, 0, NULL, 0), RNNKIT_ERROR_NULL_POINTER,
           "batch.features");
    batch.features = features;

    // Settings.
    rnnkit_training_settings settings;
    rnnkit_training_settings_init(&settings);
    rnnkit_trainer *trainer = NULL;
    settings.learning_rate = -1;
    EXPECT(rnnkit_trainer_create(model, &settings, &trainer), RNNKIT_ERROR_INVALID_ARGUMENT, "-1");
    settings.learning_rate = 1e-2f;
    settings.schedule = RNNKIT_SCHEDULE_COSINE;
    EXPECT(rnnkit_trainer_create(model, &settings, &trainer), RNNKIT_ERROR_INVALID_ARGUMENT, "cosine schedule");
    settings.schedule = RNNKIT_SCHEDULE_CONSTANT;
    settings.batch_size = 0;
    EXPECT(rnnkit_train(model, &settings, &batch, NULL, NULL, NULL, NULL), RNNKIT_ERROR_INVALID_ARGUMENT,
           "batch_size is 0");
    settings.batch_size = 2;
    settings.steps = -1;
    EXPECT(rnnkit_train(model, &settings, &batch, NULL, NULL, NULL, NULL), RNNKIT_ERROR_INVALID_ARGUMENT,
           "step limit, a time limit");
    settings.steps = 100;
    settings.early_stopping_patience = 2;
    EXPECT(rnnkit_train(model, &settings, &batch, NULL, NULL, NULL, NULL), RNNKIT_ERROR_INVALID_ARGUMENT,
           "early stopping needs a validation");
    settings.early_stopping_patience = 0;

    // A trainer outlives its model's handle; a batch without targets cannot train.
    EXPECT(rnnkit_trainer_create(model, &settings, &trainer), RNNKIT_OK, "");
    rnnkit_model_free(model);
    rnnkit_step_report step;
    EXPECT(rnnkit_trainer_step(trainer, &batch, &step), RNNKIT_OK, "");
    batch.target_classes = NULL, batch.target_classes_count = 0;
    EXPECT(rnnkit_trainer_step(trainer, &batch, &step), RNNKIT_ERROR_DATA_MISMATCH, "training needs targets");
    rnnkit_trainer_free(trainer);
    batch.target_classes = classes, batch.target_classes_count = 4;

    // Cancelled by the callback at its third step: the run stops after the next.
    model = small_model(RNNKIT_CELL_LSTM);
    int64_t last_step = 0;
    EXPECT(rnnkit_train(model, &settings, &batch, NULL, stop_at_three, &last_step, NULL), RNNKIT_ERROR_CANCELLED,
           "cancelled after 4 steps");
    EXPECT(last_step == 3 ? RNNKIT_OK : -1, RNNKIT_OK, "");

    // Sampling needs a character model, and room for the text.
    int64_t needed;
    char text[8];
    EXPECT(rnnkit_model_sample_text(model, "", 10, 1, 0, 0, text, 8, &needed), RNNKIT_ERROR_DATA_MISMATCH,
           "character-level");
    rnnkit_model_free(model);
    rnnkit_model_config_init(&config);
    config.input = RNNKIT_INPUT_EMBEDDING;
    config.input_size = 0; // the vocabulary's characters
    config.embedding_size = 4;
    config.hidden_size = 8;
    config.output_size = 3;
    config.topology = RNNKIT_MANY_TO_MANY;
    config.vocabulary = "ab\n";
    EXPECT(rnnkit_model_create(&config, 3, &model), RNNKIT_OK, "");
    EXPECT(rnnkit_model_sample_text(model, "ab", 20, 1, 0, 5, text, 8, &needed), RNNKIT_ERROR_BUFFER_TOO_SMALL,
           "needs 23");
    char *sample = malloc((size_t)needed);
    EXPECT(rnnkit_model_sample_text(model, "ab", 20, 1, 0, 5, sample, needed, &needed), RNNKIT_OK, "");
    EXPECT(strlen(sample) == 22 && strncmp(sample, "ab", 2) == 0 ? RNNKIT_OK : -1, RNNKIT_OK, "");
    EXPECT(rnnkit_model_sample_text(model, "abc", 20, 1, 0, 5, sample, needed, &needed), RNNKIT_ERROR_DATA_MISMATCH,
           "not in the model's vocabulary");
    EXPECT(rnnkit_model_get_config(model, &config), RNNKIT_OK, "");
    int read_back = strcmp(config.vocabulary, "ab\n") == 0 && config.input_size == 3 && config.embedding_size == 4;
    EXPECT(read_back ? RNNKIT_OK : -1, RNNKIT_OK, "");
    free(sample);
    rnnkit_model_free(model);

    // Freeing NULL is allowed; the last error is per thread.
    rnnkit_model_free(NULL);
    rnnkit_trainer_free(NULL);
    rnnkit_data_free(NULL);
    EXPECT(rnnkit_model_load("/nonexistent/this-thread.safetensors", &model), RNNKIT_ERROR_FILE, "this-thread");
    pthread_t other;
    void *other_saw_its_own = NULL;
    pthread_create(&other, NULL, fail_on_other_thread, NULL);
    pthread_join(other, &other_saw_its_own);
    EXPECT(other_saw_its_own ? RNNKIT_OK : -1, RNNKIT_OK, "");
    EXPECT(strstr(rnnkit_last_error(), "this-thread") ? RNNKIT_OK : -1, RNNKIT_OK, "");

    if (failures) {
        fprintf(stderr, "%d checks failed\n", failures);
        return 1;
    }
    printf("all error checks passed\n");
    return 0;
}
