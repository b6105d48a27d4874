import AdderCore
import AdderNN
import ArgumentParser
import Foundation

@main
struct AdderLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adderlab",
        abstract: "Train and study adder neural networks (AdderNet, Chen et al., CVPR 2020).",
        subcommands: [DashboardCommand.self, RunCommand.self, SlurmCommand.self, CompareCommand.self, ListCommand.self, ModelsCommand.self, BenchCommand.self, ExportCommand.self, PlotCommand.self],
        defaultSubcommand: DashboardCommand.self
    )

    static func main() {
        OpenBLASKernels.chooseVectorKernels()
        Memory.retainFreedBlocks()
        // A closed pipe makes writes fail (and be dropped) instead of killing a run mid-step.
        signal(SIGPIPE, SIG_IGN)
        main(nil)
    }
}

/// OpenBLAS (0.3.21 in Debian 12) picks its kernels by CPU model when it is loaded, before
/// `main`; a model it does not know — this project's Xeon, family 6 model 207 — gets its
/// Prescott (SSE3) kernels, 2–3× slower than its Haswell (AVX2 + FMA) ones (ResNet-20 CNN
/// step 1.8× slower). This binary needs AVX2 and FMA anyway, so when the environment does
/// not choose (`OPENBLAS_CORETYPE` unset) and OpenBLAS fell back to Prescott, the command
/// runs itself again, same pid and arguments, with `OPENBLAS_CORETYPE=Haswell`. A value the
/// environment sets is left as it is.
enum OpenBLASKernels {
    static func chooseVectorKernels() {
        #if arch(x86_64)
        guard getenv("OPENBLAS_CORETYPE") == nil, BLAS.coreName == "Prescott" else { return }
        setenv("OPENBLAS_CORETYPE", "Haswell", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Not replaced (no /proc): carry on with the kernels OpenBLAS chose, and say so.
        unsetenv("OPENBLAS_CORETYPE")
        Console.err("warning: OpenBLAS runs its generic Prescott kernels on this CPU; set OPENBLAS_CORETYPE=Haswell for its AVX2 ones\n")
        #endif
    }
}
