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
/// Prescott (SSE3) kernels, 2–3× slower than the ones it would pick for the CPU's vector
/// instructions (ResNet-20 CNN step 1.8× slower). When the environment does not choose
/// (`OPENBLAS_CORETYPE` unset) and OpenBLAS fell back to Prescott, the command runs itself
/// again, same pid and arguments, with the core OpenBLAS picks for such a CPU: SkylakeX when
/// the kernel reports AVX-512 (F, CD, BW, DQ, VL; its sgemm measured 1.3–1.8× its Haswell
/// one on this Xeon's shapes), else Haswell (AVX2 + FMA, which this binary needs anyway).
/// A value the environment sets is left as it is. (OpenBLAS dispatches at run time; this
/// binary's own kernels stay AVX2.)
enum OpenBLASKernels {
    static func chooseVectorKernels() {
        #if arch(x86_64)
        guard getenv("OPENBLAS_CORETYPE") == nil, BLAS.coreName == "Prescott" else { return }
        setenv("OPENBLAS_CORETYPE", core(cpuFlags: cpuFlags()), 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Not replaced (no /proc): carry on with the kernels OpenBLAS chose, and say so.
        unsetenv("OPENBLAS_CORETYPE")
        Console.err("warning: OpenBLAS runs its generic Prescott kernels on this CPU; set OPENBLAS_CORETYPE=Haswell (or SkylakeX with AVX-512) for its vector ones\n")
        #endif
    }

    /// The OpenBLAS core for a CPU with these flags (as /proc/cpuinfo lists them).
    static func core(cpuFlags: Set<Substring>) -> String {
        ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"].allSatisfy { cpuFlags.contains(Substring($0)) } ? "SkylakeX" : "Haswell"
    }

    /// The first "flags" line of /proc/cpuinfo (only what the kernel enables is listed), or none.
    static func cpuFlags() -> Set<Substring> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
              let colon = line.firstIndex(of: ":") else { return [] }
        return Set(line[line.index(after: colon)...].split(separator: " "))
    }
}
