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
        Memory.retainFreedBlocks()
        // A closed pipe makes writes fail (and be dropped) instead of killing a run mid-step.
        signal(SIGPIPE, SIG_IGN)
        main(nil)
    }
}
