#include "adder_mpi.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

// Open MPI's ABI (libmpi.so.40, Open MPI 3.x–5.x): handles are pointers to the library's
// predefined objects (mpi.h's OMPI_PREDEFINED_GLOBAL), MPI_IN_PLACE is (void *)1 and
// MPI_THREAD_SERIALIZED is 2. Declared here so that no mpi.h is needed to build.
typedef void *Handle;
#define ADDER_MPI_IN_PLACE ((void *)1)
#define ADDER_MPI_THREAD_SERIALIZED 2

static struct {
    int (*init_thread)(int *, char ***, int, int *);
    int (*comm_rank)(Handle, int *);
    int (*comm_size)(Handle, int *);
    int (*allreduce)(const void *, void *, int, Handle, Handle, Handle);
    int (*bcast)(void *, int, Handle, int, Handle);
    int (*allgather)(const void *, int, Handle, void *, int, Handle, Handle);
    int (*abort_)(Handle, int);
    int (*finalize)(void);
    Handle world, floatType, doubleType, byteType, sum;
} mpi;

static int fail(char *error, int length, const char *what, const char *detail) {
    if (error && length > 0) snprintf(error, (size_t)length, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return 1;
}

#define LOAD(field, name) \
    if (!(*(void **)&mpi.field = dlsym(lib, name))) return fail(error, errorLength, "libmpi.so.40 has no " name " (not Open MPI?)", NULL)

int adder_mpi_init(int *rank, int *size, char *error, int errorLength) {
    // RTLD_GLOBAL: Open MPI's own plug-ins resolve libmpi's symbols through it.
    void *lib = dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL);
    if (!lib) return fail(error, errorLength, "cannot load Open MPI's libmpi.so.40 (apt-get install openmpi-bin)", dlerror());
    LOAD(init_thread, "MPI_Init_thread");
    LOAD(comm_rank, "MPI_Comm_rank");
    LOAD(comm_size, "MPI_Comm_size");
    LOAD(allreduce, "MPI_Allreduce");
    LOAD(bcast, "MPI_Bcast");
    LOAD(allgather, "MPI_Allgather");
    LOAD(abort_, "MPI_Abort");
    LOAD(finalize, "MPI_Finalize");
    LOAD(world, "ompi_mpi_comm_world");
    LOAD(floatType, "ompi_mpi_float");
    LOAD(doubleType, "ompi_mpi_double");
    LOAD(byteType, "ompi_mpi_byte");
    LOAD(sum, "ompi_mpi_op_sum");
    int provided = 0;
    if (mpi.init_thread(NULL, NULL, ADDER_MPI_THREAD_SERIALIZED, &provided) != 0)
        return fail(error, errorLength, "MPI_Init_thread failed", NULL);
    if (provided < ADDER_MPI_THREAD_SERIALIZED)
        return fail(error, errorLength, "this Open MPI does not allow calls from more than one thread (MPI_THREAD_SERIALIZED)", NULL);
    if (mpi.comm_rank(mpi.world, rank) != 0 || mpi.comm_size(mpi.world, size) != 0)
        return fail(error, errorLength, "MPI_Comm_rank or MPI_Comm_size failed", NULL);
    return 0;
}

int adder_mpi_sum_doubles(double *values, int count) {
    return mpi.allreduce(ADDER_MPI_IN_PLACE, values, count, mpi.doubleType, mpi.sum, mpi.world);
}

int adder_mpi_sum_floats(float *values, int count) {
    return mpi.allreduce(ADDER_MPI_IN_PLACE, values, count, mpi.floatType, mpi.sum, mpi.world);
}

int adder_mpi_broadcast(void *buffer, int bytes, int root) {
    return mpi.bcast(buffer, bytes, mpi.byteType, root, mpi.world);
}

int adder_mpi_gather(const void *mine, void *gathered, int bytes) {
    return mpi.allgather(mine, bytes, mpi.byteType, gathered, bytes, mpi.byteType, mpi.world);
}

void adder_mpi_abort(int code) {
    if (mpi.abort_) mpi.abort_(mpi.world, code);
}

int adder_mpi_finalize(void) { return mpi.finalize ? mpi.finalize() : 0; }
