#ifndef ADDER_MPI_H
#define ADDER_MPI_H

/// Open MPI, loaded at run time (dlopen of libmpi.so.40), so that adderlab builds and runs
/// without Open MPI and only a process started by `mpirun` loads it. Every function returns
/// 0 on success; on failure the `error` buffer (when given) holds a message.

/// Loads libmpi and initialises MPI for calls from one thread at a time
/// (MPI_THREAD_SERIALIZED); sets this process's rank and the number of ranks.
int adder_mpi_init(int *rank, int *size, char *error, int errorLength);

/// In-place sums over every rank (MPI_Allreduce with MPI_SUM).
int adder_mpi_sum_doubles(double *values, int count);
int adder_mpi_sum_floats(float *values, int count);

/// MPI_Bcast of `bytes` bytes from `root`.
int adder_mpi_broadcast(void *buffer, int bytes, int root);

/// MPI_Allgather of `bytes` bytes per rank into `gathered` (size × bytes, in rank order).
int adder_mpi_gather(const void *mine, void *gathered, int bytes);

/// MPI_Abort on MPI_COMM_WORLD: every rank ends.
void adder_mpi_abort(int code);

/// MPI_Finalize.
int adder_mpi_finalize(void);

#endif
