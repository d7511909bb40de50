/*
 * rnnkit.h: RNNKit's C interface (librnnkit, built as the `RNNKitC` product:
 * `swift build -c release --product RNNKitC` writes .build/release/libRNNKitC.so).
 *
 * Train and run recurrent networks (vanilla RNN, LSTM, GRU; stacked,
 * bidirectional, variable-length batches) from C, C++, Rust, Python or any
 * language that calls C. Weights are PyTorch's tensors under PyTorch's names.
 *
 * Conventions
 * - Every function that can fail returns an `rnnkit_status`: RNNKIT_OK (0) or
 *   an error code. After an error, `rnnkit_last_error()` returns its message on
 *   the calling thread. No error, trap or exception crosses this boundary:
 *   NULL pointers, buffers of the wrong size, bad files and bad settings are
 *   codes. (Sizes are checked before anything is allocated; a request that
 *   passes the checks but exceeds the machine's memory still ends the process,
 *   as malloc failure does in most libraries.)
 * - Handles are opaque, made by a `_create` or `_load` function and released
 *   by the matching `_free` (which accepts NULL).
 * - Buffers are the caller's: every pointer is paired with its element count,
 *   which must equal what the call needs (the error names both). Arrays are
 *   C-contiguous (row-major), batch first: sequences `[N, T, features]`.
 *   Nothing keeps a pointer to the caller's memory after a call returns.
 * - Structs that the caller fills begin with `struct_size`; fill them with
 *   the matching `_init` function (which sets it and every default) before
 *   setting fields, so that code built against this header keeps working with
 *   a later library of the same major version.
 *
 * Threads
 * - Functions may be called from any thread. A handle is used by one thread at
 *   a time: calls on the same model (or on a trainer and its model) must not
 *   overlap. Distinct models may be used concurrently from different threads.
 * - Long calls (`rnnkit_train`, `rnnkit_trainer_step`, `rnnkit_model_predict`)
 *   use all cores unless `threads` says otherwise, and hold no global lock.
 * - The progress callback runs on the thread that called `rnnkit_train`.
 * - Results do not depend on the thread count: the same seed, data and
 *   settings give the same bits with any `threads`.
 */
#ifndef RNNKIT_H
#define RNNKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ------------------------------------------------------------- */

#define RNNKIT_VERSION_MAJOR 1
#define RNNKIT_VERSION_MINOR 1
#define RNNKIT_VERSION_PATCH 0
/* MAJOR * 10000 + MINOR * 100 + PATCH: the header's version. */
#define RNNKIT_VERSION (RNNKIT_VERSION_MAJOR * 10000 + RNNKIT_VERSION_MINOR * 100 + RNNKIT_VERSION_PATCH)

/* The library's version, as RNNKIT_VERSION: a program built against this
 * header works with any library of the same major version and a minor
 * version at least the header's. */
uint32_t rnnkit_version(void);

/* ---- Status -------------------------------------------------------------- */

typedef int32_t rnnkit_status;
enum {
    RNNKIT_OK = 0,
    /* A pointer the call needs was NULL. */
    RNNKIT_ERROR_NULL_POINTER = 1,
    /* A setting or configuration value no model or run can use, an unknown
     * enum value, or a struct not made by its `_init` function. */
    RNNKIT_ERROR_INVALID_ARGUMENT = 2,
    /* Data that does not fit the model or the call: a buffer of the wrong
     * element count, a token outside the vocabulary, a length out of range. */
    RNNKIT_ERROR_DATA_MISMATCH = 3,
    /* A file that cannot be read or written. */
    RNNKIT_ERROR_FILE = 4,
    /* A file that was read but is not what it should be (not safetensors, a
     * tensor missing or of the wrong shape, bad metadata, bad .ts syntax). */
    RNNKIT_ERROR_FORMAT = 5,
    /* No parameter of that name, or an index past the end. */
    RNNKIT_ERROR_NOT_FOUND = 6,
    /* Training left the finite numbers (too many non-finite steps in a row). */
    RNNKIT_ERROR_DIVERGED = 7,
    /* The progress callback asked to stop; the model holds the weights of
     * the last step (and the checkpoint, if any, was saved). */
    RNNKIT_ERROR_CANCELLED = 8,
    /* A caller-supplied output buffer is too small (the size needed is
     * returned through the call's `needed` argument). */
    RNNKIT_ERROR_BUFFER_TOO_SMALL = 9,
    /* The processor lacks what the library needs, or anything else. */
    RNNKIT_ERROR_INTERNAL = 10
};

/* The message of the last error on the calling thread ("" if none): valid
 * until the next call that fails on this thread. */
const char *rnnkit_last_error(void);

/* ---- Models -------------------------------------------------------------- */

typedef struct rnnkit_model rnnkit_model;

enum { /* rnnkit_model_config.cell */
    RNNKIT_CELL_LSTM = 0,
    RNNKIT_CELL_GRU = 1,
    RNNKIT_CELL_RNN_TANH = 2,
    RNNKIT_CELL_RNN_RELU = 3,
    RNNKIT_CELL_LSTM_LAYER_NORM = 4
};
enum { /* rnnkit_model_config.input */
    RNNKIT_INPUT_DENSE = 0,     /* float features, input_size wide */
    RNNKIT_INPUT_EMBEDDING = 1, /* tokens 0..<input_size, looked up in embedding.weight [input_size, embedding_size] */
    RNNKIT_INPUT_ONE_HOT = 2    /* tokens 0..<input_size, fed as one-hot vectors */
};
enum { /* rnnkit_model_config.topology */
    RNNKIT_MANY_TO_MANY = 0,   /* an output per step: [N, T, output_size] */
    RNNKIT_MANY_TO_ONE = 1,    /* an output per sequence, at its last valid step: [N, output_size] */
    RNNKIT_ONE_TO_ONE = 2,     /* one step in, one output: [N, output_size] */
    RNNKIT_ONE_TO_MANY = 3,    /* one vector in ([N, input_size]), T outputs out */
    RNNKIT_ENCODER_DECODER = 4 /* a decoder of the same shape reads decoder_inputs from the encoder's state */
};
enum { /* rnnkit_model_config.head */
    RNNKIT_HEAD_LINEAR = 0,  /* head.weight [output_size, features], head.bias */
    RNNKIT_HEAD_IDENTITY = 1 /* the last layer's outputs as they are (output_size = hidden_size x directions) */
};

typedef struct rnnkit_model_config {
    uint32_t struct_size;
    int32_t cell;           /* RNNKIT_CELL_* (default LSTM) */
    int32_t input;          /* RNNKIT_INPUT_* (default DENSE) */
    int32_t topology;       /* RNNKIT_* topology (default MANY_TO_ONE) */
    int64_t input_size;     /* features, or the vocabulary size for token inputs (0: the
                             * number of characters of `vocabulary`) */
    int64_t embedding_size; /* RNNKIT_INPUT_EMBEDDING only */
    int64_t hidden_size;
    int64_t num_layers;     /* default 1 */
    int32_t bidirectional;  /* 0 or 1 */
    int32_t bias;           /* PyTorch's bias=: 1 (default) or 0 */
    int32_t head;           /* RNNKIT_HEAD_* (default LINEAR) */
    int64_t output_size;
    /* Character models: UTF-8 text whose characters (extended grapheme
     * clusters) are the tokens 0, 1, ...; NULL or "" for none. Read by
     * rnnkit_model_create; rnnkit_model_get_config points it at the model's
     * own copy, valid while the model lives. */
    const char *vocabulary;
    /* PyTorch's dropout=: in training, each output of every layer but the
     * last is zeroed with this probability, in [0, 1) (default 0). The masks
     * come from the trainer's seed and step count. */
    float dropout;
    /* PyTorch's proj_size, LSTM only: each layer's hidden state is projected
     * to this width (below hidden_size), h = W_hr (o * tanh(c)); outputs and
     * h_n are then this wide, c_n keeps hidden_size. 0 (default): none. */
    int64_t proj_size;
} rnnkit_model_config;

/* Fills `config` with its struct_size and the defaults above (sizes 0). */
void rnnkit_model_config_init(rnnkit_model_config *config);

/* A new model with PyTorch's initialisation, drawn from `seed`. */
rnnkit_status rnnkit_model_create(const rnnkit_model_config *config, uint64_t seed, rnnkit_model **model);
/* Reads a safetensors model file written by RNNKit (or by PyTorch with the
 * metadata RNNKit's README describes). */
rnnkit_status rnnkit_model_load(const char *path, rnnkit_model **model);
/* Writes the model as safetensors, atomically: a reader never sees a partial
 * file, and a failed save leaves no file behind. */
rnnkit_status rnnkit_model_save(const rnnkit_model *model, const char *path);
void rnnkit_model_free(rnnkit_model *model);

rnnkit_status rnnkit_model_get_config(const rnnkit_model *model, rnnkit_model_config *config);
/* The instruction set the model's kernels run on this processor: "avx512",
 * "avx2", "baseline" or "neon" (a static string): the widest the processor
 * runs, unless RNNKIT_ISA names another. */
rnnkit_status rnnkit_model_kernels(const rnnkit_model *model, const char **name);

/* Parameters by PyTorch name: those of a module with `rnn = nn.LSTM(...,
 * batch_first=True)` (or GRU, RNN), `head = nn.Linear(...)` and, for token
 * inputs, `embedding = nn.Embedding(...)`: `rnn.weight_ih_l0`,
 * `rnn.bias_hh_l1_reverse`, `head.weight`, `embedding.weight`, ...
 * `count` tensors in a fixed order, holding `elements` floats in all. */
rnnkit_status rnnkit_model_parameter_count(const rnnkit_model *model, int64_t *count, int64_t *elements);
/* The name of tensor `index` (0..<count), valid while the model lives. */
rnnkit_status rnnkit_model_parameter_name(const rnnkit_model *model, int64_t index, const char **name);
/* The tensor's shape: writes min(rank, capacity) sizes to `shape`, and `rank`. */
rnnkit_status rnnkit_model_parameter_shape(
    const rnnkit_model *model, const char *name, int64_t *shape, int32_t capacity, int32_t *rank);
/* Copies tensor `name` out into `values`, which holds exactly its element count. */
rnnkit_status rnnkit_model_get_parameter(const rnnkit_model *model, const char *name, float *values, int64_t count);
/* Replaces tensor `name` with `values` (exactly its element count, all finite). */
rnnkit_status rnnkit_model_set_parameter(rnnkit_model *model, const char *name, const float *values, int64_t count);

/* ---- Batches --------------------------------------------------------------- */

/* Sequences, and optionally targets, in the caller's memory. Unused pointers
 * are NULL with count 0. With N = count, T = time_steps, I = input width:
 * - features `[N, T, I]` for dense inputs, or tokens `[N, T]` for token
 *   inputs; one-to-one and one-to-many models read one step: `[N, I]`, `[N]`.
 * - lengths `[N]`, each in 1..T: the valid steps of each sequence (steps past
 *   it are padding that changes nothing); NULL when all have T steps.
 * - decoder_inputs `[N, decoder_time_steps, I]`: encoder-decoder models.
 * - targets: per step (`[N, T', O]` values or `[N, T']` classes) or per
 *   sequence (`[N, O]` values or `[N]` classes), as the topology says; values
 *   train with mean squared error, classes with cross-entropy. */
typedef struct rnnkit_batch {
    int64_t count;
    int64_t time_steps;
    const float *features;
    int64_t features_count;
    const int32_t *tokens;
    int64_t tokens_count;
    const int32_t *lengths; /* count entries, or NULL */
    const float *decoder_inputs;
    int64_t decoder_inputs_count;
    int64_t decoder_time_steps;
    const float *target_values;
    int64_t target_values_count;
    const int32_t *target_classes;
    int64_t target_classes_count;
} rnnkit_batch;

/* ---- Inference ----------------------------------------------------------- */

/* The element counts `rnnkit_model_predict` fills for `count` sequences of
 * `time_steps` (and `decoder_time_steps`) steps: the outputs, and each final
 * state `[layers x directions, count, hidden_size]` (hidden proj_size wide
 * with projections; cell 0 without one). */
rnnkit_status rnnkit_model_output_counts(
    const rnnkit_model *model, int64_t count, int64_t time_steps, int64_t decoder_time_steps,
    int64_t *outputs, int64_t *hidden, int64_t *cell);

/* Runs the model forward over `batch` (targets ignored, except that
 * one-to-many models given target values feed them back). `hidden` and `cell`
 * may be NULL (count 0) when the final state is not wanted. `threads` 0: all cores. */
rnnkit_status rnnkit_model_predict(
    const rnnkit_model *model, const rnnkit_batch *batch, int32_t threads,
    float *outputs, int64_t outputs_count, float *hidden, int64_t hidden_count, float *cell, int64_t cell_count);

/* Generates `length` characters from a character model (token inputs,
 * many-to-many, with a vocabulary) after `prime` (UTF-8, may be ""), drawn
 * from `seed` at `temperature` (> 0), among the `top_k` most likely (0: all).
 * Writes the prime and the sample as UTF-8 with a terminating NUL into `text`
 * (`capacity` bytes); `needed` gets the bytes needed, NUL included. */
rnnkit_status rnnkit_model_sample_text(
    const rnnkit_model *model, const char *prime, int64_t length, float temperature, int32_t top_k,
    uint64_t seed, char *text, int64_t capacity, int64_t *needed);

/* ---- Training settings --------------------------------------------------- */

enum { RNNKIT_OPTIMIZER_ADAM = 0, RNNKIT_OPTIMIZER_ADAMW = 1, RNNKIT_OPTIMIZER_SGD = 2 };
enum {
    RNNKIT_SCHEDULE_CONSTANT = 0,
    RNNKIT_SCHEDULE_STEP = 1,   /* StepLR(step_size = schedule_steps, gamma = schedule_factor) */
    RNNKIT_SCHEDULE_COSINE = 2, /* CosineAnnealingLR(T_max = schedule_steps), schedule_warmup linear steps first */
    RNNKIT_SCHEDULE_PLATEAU = 3 /* ReduceLROnPlateau(factor = schedule_factor, patience = schedule_patience), per epoch */
};
enum { RNNKIT_CLIP_NONE = 0, RNNKIT_CLIP_NORM = 1, RNNKIT_CLIP_VALUE = 2 };

typedef struct rnnkit_training_settings {
    uint32_t struct_size;
    /* The optimiser, as PyTorch's (default Adam, lr 1e-3, betas 0.9 and 0.999, eps 1e-8). */
    int32_t optimizer;
    float learning_rate;
    float momentum; /* SGD */
    float beta1, beta2, epsilon;
    float weight_decay; /* default 0; torch.optim.AdamW's default is 0.01 */
    /* The learning-rate schedule (default constant; a cosine needs schedule_steps, usually `steps`). */
    int32_t schedule;
    int64_t schedule_steps;
    int64_t schedule_warmup;
    double schedule_factor;
    int64_t schedule_patience;
    /* Gradient clipping (default none). */
    int32_t clipping;
    float clip_limit;
    /* Worker threads; 0 (default) uses all cores. */
    int32_t threads;

    /* A training run only (a trainer ignores these). */
    int64_t batch_size;   /* sequences per mini-batch (default 32) */
    int64_t accumulation; /* mini-batches per optimiser step (default 1) */
    int32_t shuffle;      /* draw each epoch's rows in a seeded shuffle (default 1) */
    uint64_t seed;        /* the shuffle's and the dropout masks' seed (default 0; a trainer reads it too) */
    int64_t steps;        /* optimiser steps; -1: no step limit (default 100) */
    double seconds;       /* training time limit; 0 (default): none */
    double averaging_share;    /* weight averaging over this last share of the run (default 0) */
    int64_t maximum_bad_steps; /* non-finite steps in a row before RNNKIT_ERROR_DIVERGED (default 10) */
    int64_t early_stopping_patience; /* validation rounds without improvement; 0 (default): off */
    int32_t restore_best;            /* with early stopping: end with the best weights */
    /* Checkpoints of the whole training state; NULL (default): none. */
    const char *checkpoint_path;
    int64_t checkpoint_every_steps; /* 0: only at the end and on cancellation */
    double checkpoint_every_seconds;
    /* 1: continue from checkpoint_path if that file exists (the same bits as
     * a run never interrupted); 0 (default): start afresh. */
    int32_t resume;
} rnnkit_training_settings;

/* Fills `settings` with its struct_size and the defaults above. */
void rnnkit_training_settings_init(rnnkit_training_settings *settings);

/* ---- Training one step at a time ----------------------------------------- */

typedef struct rnnkit_trainer rnnkit_trainer;

typedef struct rnnkit_step_report {
    double loss;
    double gradient_norm; /* before clipping */
    int32_t skipped;      /* 1: the loss or gradient was not finite and nothing changed */
} rnnkit_step_report;

/* A trainer that updates `model` in place with the optimiser, schedule,
 * clipping and threads of `settings`; the model must outlive it. */
rnnkit_status rnnkit_trainer_create(
    rnnkit_model *model, const rnnkit_training_settings *settings, rnnkit_trainer **trainer);
/* One optimiser step on all of `batch` (which needs targets). `report` may be NULL. */
rnnkit_status rnnkit_trainer_step(rnnkit_trainer *trainer, const rnnkit_batch *batch, rnnkit_step_report *report);
/* The mean loss on `batch` with the current weights (nothing updated). */
rnnkit_status rnnkit_trainer_loss(rnnkit_trainer *trainer, const rnnkit_batch *batch, double *loss);
void rnnkit_trainer_free(rnnkit_trainer *trainer);

/* ---- A whole training run ------------------------------------------------- */

typedef struct rnnkit_progress {
    int64_t step;
    int64_t total_steps;       /* -1 for a run limited by time only */
    double smoothed_loss;
    double validation_loss;    /* NaN before the first validation */
    int64_t skipped_steps;
    double sequences_per_second;
    double elapsed_seconds;
    double remaining_seconds;  /* NaN while unknown */
    int32_t is_final;
} rnnkit_progress;

/* Called after every step; return 0 to go on, anything else to stop the run
 * after its next step (the step under way when a request is noticed, as with
 * a signal), which then returns RNNKIT_ERROR_CANCELLED. */
typedef int32_t (*rnnkit_progress_callback)(const rnnkit_progress *progress, void *user_data);

enum {
    RNNKIT_STOP_BUDGET_SPENT = 0,  /* the step or time limit */
    RNNKIT_STOP_EARLY_STOPPING = 1 /* the validation loss stopped improving */
};

typedef struct rnnkit_summary {
    int64_t steps;              /* counting those before a resume */
    double final_loss;
    double final_gradient_norm;
    int64_t skipped_steps;
    double seconds;
    int64_t steps_this_run;
    int64_t sequences_this_run;
    double sequences_per_second;
    int32_t stop_reason;        /* RNNKIT_STOP_* */
    int64_t best_step;          /* with early stopping: the best validation loss's step; -1 otherwise */
    double best_validation_loss; /* with early stopping; NaN otherwise */
} rnnkit_summary;

/* Trains `model` in place on `training` (epochs of shuffled mini-batches)
 * until the step or time limit is spent or early stopping ends it, scoring
 * `validation` (may be NULL) about ten times along the way and at the end.
 * `progress` may be NULL; `summary` may be NULL, and is written only when the
 * run ends without an error. The data are copied once on entry. */
rnnkit_status rnnkit_train(
    rnnkit_model *model, const rnnkit_training_settings *settings, const rnnkit_batch *training,
    const rnnkit_batch *validation, rnnkit_progress_callback progress, void *user_data, rnnkit_summary *summary);

/* ---- Data files ---------------------------------------------------------- */

typedef struct rnnkit_data rnnkit_data;

enum {
    RNNKIT_TARGETS_CLASSES = 0,          /* [N] class indices */
    RNNKIT_TARGETS_STEP_CLASSES = 1,     /* [N, T] class indices */
    RNNKIT_TARGETS_VALUES = 2,           /* [N, target_size] floats */
    RNNKIT_TARGETS_STEP_VALUES = 3       /* [N, T, target_size] floats */
};

typedef struct rnnkit_data_info {
    int64_t count;       /* N */
    int64_t time_steps;  /* T, the longest sequence */
    int64_t input_size;  /* features per step */
    int32_t has_lengths; /* whether sequences have lengths of their own */
    int32_t targets;     /* RNNKIT_TARGETS_* */
    int64_t target_size; /* floats per target (values), 1 for classes */
    int64_t class_count; /* named classes (.ts files), 0 otherwise */
} rnnkit_data_info;

/* Reads a data set: a UCR/UEA `.ts` classification file (classes numbered in
 * the order of its @classLabel line), or a safetensors file of `inputs`,
 * `targets` and optional `lengths` (RNNKit's README). */
rnnkit_status rnnkit_data_load(const char *path, rnnkit_data **data);
rnnkit_status rnnkit_data_get_info(const rnnkit_data *data, rnnkit_data_info *info);
/* Points `batch` at the data set's own arrays (valid while `data` lives). */
rnnkit_status rnnkit_data_batch(const rnnkit_data *data, rnnkit_batch *batch);
/* The name of class `index` of a .ts file, valid while `data` lives. */
rnnkit_status rnnkit_data_class_name(const rnnkit_data *data, int64_t index, const char **name);
void rnnkit_data_free(rnnkit_data *data);

#ifdef __cplusplus
}
#endif

#endif /* RNNKIT_H */
