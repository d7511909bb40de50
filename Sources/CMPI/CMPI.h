// MPI for RNNKitMPI, found with pkg-config (Open MPI's ompi-c).
#include <mpi.h>

// The handles MPI defines as macros that Swift cannot import (Open MPI's are
// addresses of globals, MPICH's integer constants), as functions.
static inline MPI_Comm rnn_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype rnn_mpi_byte(void) { return MPI_BYTE; }
