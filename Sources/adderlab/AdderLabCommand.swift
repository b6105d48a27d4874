import AdderCore
import AdderNN
import ArgumentParser

@main
struct AdderLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adderlab",
        abstract: "Train and study adder neural networks (AdderNet, Chen et al., CVPR 2020).",
        subcommands: [DashboardCommand.self, RunCommand.self, CompareCommand.self, ListCommand.self, ModelsCommand.self, BenchCommand.self, ExportCommand.self],
        defaultSubcommand: DashboardCommand.self
    )

    static func main() {
        Memory.retainFreedBlocks()
        main(nil)
    }
}
