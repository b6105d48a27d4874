import AdderCore
import AdderTestSupport
import Foundation
@testable import AdderTrain
import Testing

/// Controls for a run another process trains: lines of `<run>/controls`.
@Suite("Controls through the run directory", .timeLimit(.minutes(2)))
struct RunControlTests {
    @Test func linesAndCommands() {
        let all: [RemoteCommand] = [.pause, .resume, .stop, .toggleGradient, .scaleEta(1.25), .scaleEta(0.8)]
        #expect(all.map(\.line) == ["pause", "resume", "stop", "gradient toggle", "eta × 1.25", "eta × 0.8"])
        #expect(all.map { RemoteCommand(line: Substring($0.line)) } == all)
        for bad in ["", "Pause", "pause ", "eta × 0", "eta × 1000", "eta × nan", "eta × inf", "eta × -2", "eta x 2", "gradient"] {
            #expect(RemoteCommand(line: Substring(bad)) == nil, "\(bad)")
        }
    }

    /// Only lines added after the follower started count; bad lines are named, not applied;
    /// a partial line waits for its end; a chunk with no line end is skipped.
    @Test func theFollowerReadsNewWholeLines() throws {
        let run = tempDir()
        try RunControl.send(.stop, to: run)   // before the run started: not replayed
        let follower = ControlFollower(run: run)
        #expect(follower.poll().commands.isEmpty)
        try RunControl.send(.pause, to: run)
        let handle = try #require(FileHandle(forWritingAtPath: run + "/controls"))
        handle.seekToEndOfFile()
        handle.write(Data("eta × 2\nrm -rf /\n\u{1B}[2Jeta × 3\ngradient tog".utf8))
        let first = follower.poll()
        #expect(first.commands == [.pause, .scaleEta(2)])
        #expect(first.ignored == ["'rm -rf /'", "'?[2Jeta × 3'"])
        handle.write(Data("gle\n".utf8))
        #expect(follower.poll().commands == [.toggleGradient])
        handle.write(Data(repeating: UInt8(ascii: "a"), count: ControlFollower.chunk))
        #expect(follower.poll().ignored == ["4096 bytes without a line end"])
        handle.write(Data("\nresume\n".utf8))
        let last = follower.poll()
        #expect(last.commands == [.resume] && last.ignored == ["''"])
        try handle.close()
    }

    /// A controls file that is a symbolic link is never written through.
    @Test func aSymbolicLinkIsRefused() throws {
        let run = tempDir(), outside = tempDir() + "/target"
        #expect(FileManager.default.createFile(atPath: outside, contents: Data()))
        try FileManager.default.createSymbolicLink(atPath: run + "/controls", withDestinationPath: outside)
        #expect(throws: FileFailure.self) { try RunControl.send(.stop, to: run) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: outside)).isEmpty)
    }

    /// A controls file replaced by a symbolic link after the run started is not read: its
    /// target's lines are neither applied nor copied into the log.
    @Test func theFollowerNeverReadsThroughALink() throws {
        let run = tempDir(), outside = tempDir() + "/secret"
        try Data("stop\nroot:x:0:0\n".utf8).write(to: URL(fileURLWithPath: outside))
        let follower = ControlFollower(run: run)
        try FileManager.default.createSymbolicLink(atPath: run + "/controls", withDestinationPath: outside)
        let polled = follower.poll()
        #expect(polled.commands.isEmpty && polled.ignored.isEmpty)
    }

    /// A run's writer applies the lines as its own controls, each recorded at its step.
    @Test func aRunTakesControlsFromItsDirectory() throws {
        let run = try TrainingRun(config: smallConfig("remote", steps: 3000), runsDirectory: tempDir(), threads: 1)
        run.start()
        let dir = try #require(run.directory)
        #expect(waitUntil(30) { run.snapshot().step >= 3 })
        try RunControl.send(.pause, to: dir)
        #expect(waitUntil(30) { run.snapshot().state == .paused })
        // What another process's dashboard reads: paused, held by this process.
        let read = try RunReader.read(directory: dir)
        #expect(read.state == .paused && read.message.hasPrefix("training in another process (pid \(getpid())"))
        try RunControl.send(.scaleEta(2), to: dir)
        try RunControl.send(.toggleGradient, to: dir)
        try RunControl.send(.resume, to: dir)
        #expect(waitUntil(30) { run.snapshot().state == .running })
        try RunControl.send(.stop, to: dir)
        let end = run.wait()
        #expect(end.state == .stopped && end.eta == 0.4)
        #expect(end.gradientMode == .rules(GradientRules(filter: .sign, input: .sign)))
        let kinds = end.events.filter { $0.kind != .state }.map { "\($0.kind) \($0.detail)" }
        #expect(kinds == ["pause ", "eta 0.4", "gradientMode sign/sign", "resume "])
    }

    /// Garbage in the controls file is named in run.log three lines at a time at most.
    @Test func aFloodOfGarbageIsCountedNotCopied() throws {
        let run = try TrainingRun(config: smallConfig("flood", steps: 3000), runsDirectory: tempDir(), threads: 1)
        run.start()
        let dir = try #require(run.directory)
        #expect(waitUntil(30) { run.snapshot().step >= 3 })
        #expect(FileManager.default.createFile(atPath: dir + "/controls", contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: dir + "/controls"))
        handle.seekToEndOfFile()
        handle.write(Data(((1...10).map { "junk \($0)" } + ["stop"]).joined(separator: "\n").appending("\n").utf8))
        try handle.close()
        #expect(run.wait().state == .stopped)
        let log = try String(contentsOfFile: dir + "/run.log", encoding: .utf8).split(separator: "\n").filter { $0.contains("controls") }
        let expected = RemoteCommand.expected
        #expect(log.map(String.init) == ["ignored a line of controls: 'junk 1'; expected \(expected)", "ignored a line of controls: 'junk 2'; expected \(expected)",
                                         "ignored a line of controls: 'junk 3'; expected \(expected)", "ignored 7 more lines of controls"])
    }
}
