/* Not part of RNNKit's C interface: what the library's Swift side calls. */
#ifndef RNNKIT_INTERNAL_H
#define RNNKIT_INTERNAL_H

/* Records `message` as the calling thread's last error (copied, cut to 4 KiB; NULL clears it). */
__attribute__((visibility("hidden"))) void rnnkit_internal_set_last_error(const char *message);

#endif
