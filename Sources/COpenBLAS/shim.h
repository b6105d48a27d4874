#include <cblas.h>
// OpenBLAS extensions (declared in cblas.h on Debian's builds; repeated here for other layouts).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char* openblas_get_corename(void);
