import AdderCore
import AdderTrain
import ArgumentParser
import Foundation

/// `adderlab slurm`: an sbatch script that trains a group as a Slurm job array, one run per
/// array task (`adderlab run GROUP --index $SLURM_ARRAY_TASK_ID`), all writing one runs
/// directory; with `--submit`, submitted with `sbatch`.
struct SlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Write an sbatch script that trains an experiment's runs as a Slurm job array (and submit it with --submit).",
        discussion: """
            The script goes into the runs directory as <experiment name>.sbatch, with each task's output beside it \
            (<name>-<job>_<task>.out). Every path in it is absolute, so the binary, the experiment file and the runs \
            directory must be where the compute nodes see them (a shared file system). The tasks read the experiment \
            file when they start: do not change it before the array has started.
            """
    )

    @Argument(help: "An experiment file (experiments/NAME.yaml or NAME).")
    var experiment: String

    @Option(name: .customLong("set"), help: "Override a key of the experiment for every task, e.g. --set epochs=1 (repeatable).")
    var overrides: [String] = []

    @Option(name: .long, help: "Where run directories, the script and the tasks' output go.")
    var runsDir = RunCommand.defaultRunsDirectory

    @Option(name: .long, help: "The Slurm partition (or several, joined by commas); default: the cluster's default.")
    var partition: String?

    @Option(name: .long, parsing: .unconditional, help: "Time limit of each task in a Slurm format: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S (or UNLIMITED); default: the partition's.")
    var time: String?

    @Option(name: .long, help: "CPUs of each task, 1 to 256; also the run's kernel threads (--threads-per-run).")
    var cpusPerTask = 1

    @Flag(name: .long, help: "Submit the script with sbatch and print the job id.")
    var submit = false

    func validate() throws {
        if let problem = SlurmScript.partitionProblem(partition) { throw ValidationError(problem) }
        if let problem = SlurmScript.timeProblem(time) { throw ValidationError(problem) }
        if cpusPerTask < 1 || cpusPerTask > 256 { throw ValidationError("--cpus-per-task must be from 1 to 256, got \(cpusPerTask)") }
        if let problem = SlurmScript.runsDirectoryProblem(runsDir) { throw ValidationError(problem) }
    }

    func run() throws {
        let cwd = FileManager.default.currentDirectoryPath
        let file = SlurmScript.absolute(Experiment.resolve(experiment), from: cwd)
        let loaded: Experiment
        do { loaded = try Experiment.load(path: file, overrides: overrides) } catch { throw failure("error: \(error)") }
        let runs = SlurmScript.absolute(runsDir, from: cwd)
        guard let binary = SlurmScript.executablePath() else { throw failure("error: cannot tell where this adderlab binary is (/proc/self/exe)") }
        let script = SlurmScript(name: loaded.name, runs: loaded.runs.count, experiment: file, overrides: overrides, runsDirectory: runs,
                                 binary: binary, workingDirectory: cwd, partition: partition, time: time, cpusPerTask: cpusPerTask)
        do { try FileManager.default.createDirectory(atPath: runs, withIntermediateDirectories: true) } catch {
            throw failure("error: cannot create the runs directory \(runs): \(error.localizedDescription)")
        }
        let path = script.path
        do { try AtomicFile.write(Data(script.text.utf8), to: URL(fileURLWithPath: path)) } catch { throw failure("error: cannot write \(error)") }
        chmod(path, 0o755)
        let n = loaded.runs.count
        Console.line("wrote \(path): \(n) run\(n == 1 ? "" : "s") of \(file) as array tasks 0-\(n - 1), \(cpusPerTask) CPU\(cpusPerTask == 1 ? "" : "s") each")
        guard submit else {
            Console.line("submit it with: sbatch \(SlurmScript.quote(path))")
            return
        }
        let job: String
        do { job = try SlurmScript.sbatch(path) { Console.err($0 + "\n") } } catch { throw failure("error: \(error)") }
        Console.line("submitted job \(job); watch it with: squeue -j \(job), or adderlab dashboard --runs-dir \(SlurmScript.quote(runs))")
    }
}

/// The sbatch script of a group: its text, where it goes, the checks on what goes into it.
struct SlurmScript: Equatable {
    var name: String
    var runs: Int
    var experiment: String
    var overrides: [String]
    var runsDirectory: String
    var binary: String
    var workingDirectory: String
    var partition: String?
    var time: String?
    var cpusPerTask: Int

    /// `<runs>/<experiment name>.sbatch` (the name is a run name: one safe path component).
    var path: String { runsDirectory + "/" + name + ".sbatch" }

    var text: String {
        var lines = [
            "#!/bin/bash",
            "# Written by `adderlab slurm`: the \(runs) run\(runs == 1 ? "" : "s") of experiment '\(name)' as a Slurm job array,",
            "# one run per array task; submit with sbatch, list the runs with `adderlab run EXPERIMENT --list`.",
            "#SBATCH --job-name=adderlab-\(name)",
            "#SBATCH --array=0-\(runs - 1)",
            "#SBATCH --ntasks=1",
            "#SBATCH --cpus-per-task=\(cpusPerTask)",
            "#SBATCH --output=\(runsDirectory)/\(name)-%A_%a.out",
        ]
        if let partition { lines.append("#SBATCH --partition=\(partition)") }
        if let time { lines.append("#SBATCH --time=\(time)") }
        let command = [SlurmScript.quote(binary), "run", SlurmScript.quote(experiment),
                       "--index", "\"${SLURM_ARRAY_TASK_ID:?is not set: submit this script with sbatch}\"",
                       "--runs-dir", SlurmScript.quote(runsDirectory), "--threads-per-run", "\(cpusPerTask)"]
            + overrides.flatMap { ["--set", SlurmScript.quote($0)] }
        lines += [
            "set -eu",
            "cd \(SlurmScript.quote(workingDirectory))",
            "exec " + command.joined(separator: " "),
        ]
        return lines.joined(separator: "\n") + "\n"
    }

    /// `s` as one word for a POSIX shell: in single quotes, each ' written '\''.
    static func quote(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// `path` made absolute against `directory` and normalised (no `.` or `..` parts).
    static func absolute(_ path: String, from directory: String) -> String {
        let full = path.hasPrefix("/") ? path : directory + "/" + path
        var parts: [Substring] = []
        for p in full.split(separator: "/") {
            if p == "." { continue }
            if p == ".." { _ = parts.popLast(); continue }
            parts.append(p)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// This process's executable, absolute.
    static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Nil when `partition` can go on an `#SBATCH --partition=` line.
    static func partitionProblem(_ partition: String?) -> String? {
        guard let partition else { return nil }
        let names = partition.split(separator: ",", omittingEmptySubsequences: false)
        let ok = partition.utf8.count <= 200 && names.allSatisfy { n in
            !n.isEmpty && n.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0)) }
        }
        return ok ? nil : "--partition '\(partition.prefix(200))' is not a partition name: letters, digits, '_', '-' and '.' (several partitions joined by commas)"
    }

    /// Nil when `time` is one of Slurm's time formats.
    static func timeProblem(_ time: String?) -> String? {
        guard let time else { return nil }
        let forms = "M, M:S, H:M:S, D-H, D-H:M or D-H:M:S (e.g. 30, 2:00:00, 1-12), or UNLIMITED"
        if ["UNLIMITED", "INFINITE"].contains(time.uppercased()) { return nil }
        func number(_ s: Substring) -> Int? {
            guard !s.isEmpty, s.count <= 7, s.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) else { return nil }
            return Int(s)
        }
        let bad = "--time '\(time.prefix(100))' is not a Slurm time limit: the forms are \(forms)"
        let dash = time.split(separator: "-", omittingEmptySubsequences: false)
        guard dash.count <= 2 else { return bad }
        let clock = dash.last!.split(separator: ":", omittingEmptySubsequences: false)
        guard clock.allSatisfy({ number($0) != nil }) else { return bad }
        let values = clock.map { number($0)! }
        if dash.count == 2 {
            // D-H, D-H:M, D-H:M:S: hours below 24, minutes and seconds below 60.
            guard number(dash[0]) != nil, (1...3).contains(values.count) else { return bad }
            if values[0] >= 24 { return "--time '\(time)': hours after the day must be below 24" }
            if values.dropFirst().contains(where: { $0 >= 60 }) { return "--time '\(time)': minutes and seconds must be below 60" }
            return nil
        }
        // M, M:S, H:M:S: the first part is any size, the later ones below 60.
        guard (1...3).contains(values.count) else { return bad }
        if values.dropFirst().contains(where: { $0 >= 60 }) { return "--time '\(time)': minutes and seconds must be below 60" }
        return nil
    }

    /// Nil when `path` can go on the `#SBATCH --output=` line: sbatch splits those lines at
    /// white space and reads '%' as a pattern and '\' as an escape, so none of them may be in it.
    static func runsDirectoryProblem(_ path: String) -> String? {
        guard let c = path.unicodeScalars.first(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F || "%\\\"'#".unicodeScalars.contains($0) }) else {
            return path.isEmpty ? "--runs-dir is empty" : nil
        }
        let what = c == " " ? "a space" : c.properties.isWhitespace || c.value < 0x20 || c.value == 0x7F ? "a control or white-space character" : "'\(c)'"
        return "--runs-dir '\(path.prefix(200))' holds \(what), which an #SBATCH --output line cannot carry; choose a runs directory without white space, quotes, '%', '#' or '\\'"
    }

    /// An error of `sbatch`, with what it said.
    struct SubmitError: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `sbatch --parsable script` and returns the job id it prints; what else it
    /// says (warnings) is passed to `warn`.
    static func sbatch(_ script: String, warn: (String) -> Void) throws(SubmitError) -> String {
        // One pipe for both outputs: sbatch prints little, and a second pipe could fill while the first is read.
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw SubmitError(description: "cannot run sbatch: pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, ends[1], 1)
        posix_spawn_file_actions_adddup2(&actions, ends[1], 2)
        for fd in ends { posix_spawn_file_actions_addclose(&actions, fd) }
        let argv = ["sbatch", "--parsable", script]
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, "sbatch", &actions, nil, &cargs, environ)
        close(ends[1])
        defer { close(ends[0]) }
        guard rc == 0 else {
            let why = rc == ENOENT ? "it is not in PATH (is Slurm installed here?)" : String(cString: strerror(rc))
            throw SubmitError(description: "cannot run sbatch: \(why)")
        }
        var data = [UInt8](), buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(ends[0], &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            if data.count < 65_536 { data += buffer.prefix(n) }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard code == 0 else {
            throw SubmitError(description: "sbatch \(script) failed (exit status \(code))\(lines.isEmpty ? "" : ": " + lines.joined(separator: "; "))")
        }
        // --parsable prints "id" or "id;cluster" last.
        let last = lines.popLast() ?? ""
        let id = last.split(separator: ";").first.map(String.init) ?? ""
        guard !id.isEmpty, id.allSatisfy(\.isASCII), id.allSatisfy(\.isNumber) else {
            throw SubmitError(description: "sbatch \(script) printed '\(last.prefix(200))', not a job id")
        }
        for l in lines { warn(l) }
        return id
    }
}
