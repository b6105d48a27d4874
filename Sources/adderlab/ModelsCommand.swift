import AdderNN
import ArgumentParser

/// `adderlab models`: every architecture with its parameters and its operations
/// per image as a CNN and as the paper's AdderNet.
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the models with parameter counts and operations per image, as a CNN and as an AdderNet."
    )

    @Flag(name: .long, help: "Show the per-layer breakdown of each model.")
    var layers = false

    @Option(name: .long, help: "Show only this model (\(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))).")
    var model: String?

    func validate() throws {
        if let model, ModelKind(rawValue: model) == nil {
            throw ValidationError("unknown model '\(model)'; expected one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() {
        let kinds = model.flatMap(ModelKind.init(rawValue:)).map { [$0] } ?? ModelKind.allCases
        Console.line("Operations per image. A conv multiply-accumulate counts one multiplication and one addition;")
        Console.line("an adder pair counts two additions; batch norm is left out, as in the paper. Energy: FP32 at 45 nm")
        Console.line("(Horowitz, ISSCC 2014: addition 0.9 pJ, multiplication 3.7 pJ), per image.\n")
        let header = ["model", "input", "params", "CNN mult", "CNN add", "AdderNet mult", "AdderNet add", "CNN µJ", "AdderNet µJ"]
        var rows: [[String]] = []
        for kind in kinds {
            let cnn = Model(kind, placement: .cnn)
            let adder = Model(kind, placement: .paper)
            let c = cnn.operations, a = adder.operations
            rows.append([kind.rawValue, kind.inputShape.map(String.init).joined(separator: "×"), compact(cnn.parameterCount),
                         compact(c.multiplications), compact(c.additions), compact(a.multiplications), compact(a.additions),
                         energy(c.energyMicrojoules()), energy(a.energyMicrojoules())])
        }
        Console.line(table(header: header, rows: rows))
        guard layers else { return }
        for kind in kinds {
            let adder = Model(kind, placement: .paper)
            Console.line("\n\(kind.rawValue) — \(kind.summary), as the paper's AdderNet")
            let rows = adder.operationBreakdown().map { r in
                [r.name, r.type, r.outputShape.map(String.init).joined(separator: "×"),
                 compact(r.operations.multiplications), compact(r.operations.additions)]
            }
            Console.line(table(header: ["layer", "type", "output", "mult", "add"], rows: rows))
        }
    }
}

/// Microjoules with three significant digits.
func energy(_ uj: Double) -> String { OperationCount.microjoules(uj) }

func compact(_ n: Int) -> String { OperationCount.compact(n) }

/// A plain text table: first column left-aligned, the rest right-aligned (or all left).
func table(header: [String], rows: [[String]], rightAlign: Bool = true) -> String {
    let all = [header] + rows
    let widths = header.indices.map { i in all.map { $0[i].count }.max() ?? 0 }
    func line(_ r: [String]) -> String {
        r.enumerated().map { i, s in
            let pad = String(repeating: " ", count: widths[i] - s.count)
            return i == 0 || !rightAlign ? s + pad : pad + s
        }.joined(separator: "  ")
    }
    return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line))
        .joined(separator: "\n")
}

import Foundation
