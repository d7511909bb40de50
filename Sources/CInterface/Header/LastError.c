// The calling thread's last error message: a C11 thread-local buffer, so that
// each thread reads its own without locks and nothing is left to free when a
// thread ends.
#include "rnnkit.h"
#include "rnnkit_internal.h"

#include <string.h>

static _Thread_local char last_error[4096];

const char *rnnkit_last_error(void) { return last_error; }

void rnnkit_internal_set_last_error(const char *message) {
    size_t length = message ? strlen(message) : 0;
    if (length >= sizeof last_error) {
        // Cut before a UTF-8 continuation byte, never inside a character.
        length = sizeof last_error - 1;
        while (length > 0 && ((unsigned char)message[length] & 0xC0) == 0x80) length--;
    }
    memcpy(last_error, message ? message : "", length);
    last_error[length] = '\0';
}
