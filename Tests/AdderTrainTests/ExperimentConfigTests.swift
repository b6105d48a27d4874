import Testing
import AdderTrain

@Suite("Experiment files")
struct ConfigTests {
    func error(_ yaml: String, overrides: [String] = []) -> String {
        do { _ = try Experiment.parse(yaml: yaml, file: "x.yaml", overrides: overrides); return "no error" } catch { return error.description }
    }

    @Test func defaultsAndOverrides() throws {
        let e = try Experiment.parse(yaml: "name: a\nepochs: 2", overrides: ["optimizer.lr=0.01", "gradient.filter=sign", "batchNorm.recalibrate=8",
                                                                            "featureDimensions=2"])
        #expect(e.runs.count == 1)
        let c = e.runs[0]
        #expect(c.epochs == 2 && c.lr == 0.01 && c.filterGradient == .sign && c.model == .lenet5 && c.eta == 0.2 && c.batchNormRecalibration == 8)
        #expect(c.featureDimensions == 2)
        #expect(try Experiment.parse(yaml: "name: a").runs[0].featureDimensions == 0)
        // The resolved tree round-trips through YAML.
        let back = try ExperimentConfig(tree: try ConfigValue.parse(yaml: c.tree.yaml()))
        #expect(back == c)
    }

    /// Every bad value names the file, the line, the key path, the value and what is allowed.
    @Test(arguments: [
        ("name: a\noptimizer:\n  lr: -0.1", "x.yaml:3: optimizer.lr: -0.1 is out of range; it must be > 0.0"),
        ("name: a\nbatchSize: 0", "x.yaml:2: batchSize: 0 is too small; it must be at least 2"),
        ("name: a\nlearningRate: {eta: 0}", "learningRate.eta: 0.0 is out of range; it must be > 0.0"),
        ("name: a\nmodel: resnet99", "x.yaml:2: model: 'resnet99' is not one of lenet5, resnet20, resnet32, resnet56, vgg-small, resnet18, resnet50"),
        ("name: a\ndataset: imagenet", "dataset: 'imagenet' is not one of fashion-mnist, mnist, cifar10, cifar100, synthetic"),
        ("name: a\nepochs: two", "x.yaml:2: epochs: must be a whole number from 1 to 100000, found two"),
        ("name: a\nepochs: 1.5", "x.yaml:2: epochs: must be a whole number from 1 to 100000, found 1.5"),
        ("name: a\nlearnigRate: {eta: 1}", "x.yaml:2: learnigRate: is not a known key; expected one of"),
        ("name: a\noptimizer: {lr: 0.1, mom: 0.9}", "optimizer.mom: is not a known key; expected one of lr, momentum, nesterov, weightDecay"),
        ("name: a\ngradient: {filter: exact}", "gradient.filter: 'exact' is not one of fullPrecision, sign"),
        ("name: a\ngradient: {input: clip}", "gradient.input: 'clip' is not one of hardTanh, sign, identity"),
        ("name: a\nlearningRate: {strategy: warm}", "learningRate.strategy: 'warm' is not one of adaptive, fixed, scaled"),
        ("name: a\noptimizer: {momentum: 1}", "optimizer.momentum: 1.0 is out of range; it must be ≥ 0.0 and < 1.0"),
        ("name: a\nmodel: resnet20\ndataset: fashion-mnist", "model: resnet20 takes [3, 32, 32] images but fashion-mnist has [1, 28, 28]"),
        ("description: no name", "name: is missing"),
        ("name: a b", "x.yaml:1: name: 'a b' holds a character that is not allowed; it names the run directory: letters, digits, '.', '_', '+' or '-', starting with a letter or digit, at most 200 characters"),
        ("name: a\nepochs: [1", "is not valid YAML"),
        ("- 1\n- 2", "must be a map"),
        ("name: a\ngroup: {grid: {seed: []}}", "group.grid.seed: must be a non-empty list"),
        ("name: a\ngroup: {runs: [{gradient.filter: bad}]}", "gradient.filter: 'bad' is not one of fullPrecision, sign (in group variant 'bad')"),
        ("name: a\ngroup: {seeds: [1, -2]}", "x.yaml: group.seeds: -2 is not a whole number from 0 to 9007199254740992"),
        ("name: a\ngroup: {sweep: 1}", "group.sweep: is not a known key"),
        ("name: a\ngroup: {runs: [{label: x}, {label: x}]}", "two runs would both be named 'a-x'"),
        ("name: a\nvalidationFraction: 1.2", "validationFraction: 1.2 is out of range"),
        ("name: a\nepochs: 1\nepochs: 2", "x.yaml:3: epochs: appears twice (first at line 2); give each key once"),
        ("name: a\nbatchNorm: {recalibrate: -1}", "x.yaml:2: batchNorm.recalibrate: -1 is too small; it must be at least 0"),
        ("name: a\nbatchNorm: {momentum: 0.5}", "batchNorm.momentum: is not a known key; expected one of recalibrate"),
        ("name: a\nfeatureDimensions: 3", "x.yaml:2: featureDimensions: 3 is not allowed; it must be 0 (no feature layer) or 2 (the 2-D feature space that the dashboard's F view and plot --features draw)"),
        ("name: a\nfeatureDimensions: -1", "x.yaml:2: featureDimensions: -1 is too small; it must be at least 0"),
        ("name: a\nfeatureDimensions: two", "x.yaml:2: featureDimensions: must be a whole number from 0 to 1000000, found two"),
        ("name: a\nmodel: resnet20\ndataset: cifar10\nfeatureDimensions: 2", "x.yaml:4: featureDimensions: a feature layer is built for lenet5 only, not resnet20; leave featureDimensions out or 0"),
    ])
    func errorsNameTheKeyAndWhatIsAllowed(yaml: String, expected: String) {
        let message = error(yaml)
        #expect(message.contains(expected), "\(message)")
        #expect(message.hasPrefix("x.yaml"), "\(message)")
    }

    @Test func scalarsOnlyReadDecimalNumbersAsNumbers() {
        #expect(ConfigValue.scalar("nan") == .string("nan"))
        #expect(ConfigValue.scalar("inf") == .string("inf"))
        #expect(ConfigValue.scalar("5e-4") == .double(5e-4))
        #expect(ConfigValue.scalar("-.5") == .double(-0.5))
        #expect(ConfigValue.scalar("12") == .int(12))
        #expect(ConfigValue.scalar("1.0e+30") == .double(1e30))
        #expect(error("name: a", overrides: ["optimizer.lr=nan"]).contains("optimizer.lr: must be a number, found nan"))
    }

    @Test func badSetOverride() {
        #expect(error("name: a", overrides: ["optimizer.lr"]).contains("--set 'optimizer.lr' must look like key=value"))
        #expect(error("name: a", overrides: ["epochs=0"]).contains("epochs: 0 is too small"))
    }

    @Test func groupsExpandRunsGridAndSeeds() throws {
        let yaml = """
        name: ablation
        group:
          runs:
            - {label: cnn, adders: cnn}
          grid:
            gradient.filter: [fullPrecision, sign]
            learningRate.strategy: [adaptive, fixed, scaled]
          seeds: [1, 2, 3]
        """
        let e = try Experiment.parse(yaml: yaml)
        #expect(e.runs.count == (1 + 6) * 3)
        #expect(e.runs[0].name == "ablation-cnn-s1" && e.runs[0].adders == .cnn && e.runs[0].seed == 1)
        let sign = e.runs.first { $0.name == "ablation-sign-fixed-s2" }
        #expect(sign?.filterGradient == .sign && sign?.strategy == .fixed && sign?.seed == 2)
        #expect(Set(e.runs.map(\.name)).count == e.runs.count)
    }

    @Test func listReportsBrokenFilesWithoutHidingOthers() throws {
        let dir = tempDir()
        try "name: good\ndescription: fine".write(toFile: dir + "/a.yaml", atomically: true, encoding: .utf8)
        try "name: bad\nepochs: -1".write(toFile: dir + "/b.yaml", atomically: true, encoding: .utf8)
        let list = Experiment.list(directory: dir)
        #expect(list.count == 2)
        #expect((try? list[0].result.get())?.description == "fine")
        if case .failure(let e) = list[1].result { #expect(e.description.contains("b.yaml:2: epochs")) } else { Issue.record("b.yaml accepted") }
    }

    /// Every preset in experiments/ parses and validates.
    @Test func presetsValidate() throws {
        let dir = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let list = Experiment.list(directory: "/" + dir + "/experiments")
        #expect(!list.isEmpty)
        for (path, result) in list {
            if case .failure(let e) = result { Issue.record("\(path): \(e)") }
        }
    }

    /// `--set` goes to the base, where a group's own values win; pinned (the launcher),
    /// an overridden key leaves the group's variation and holds for every run.
    @Test func pinnedOverridesLeaveTheGroupsVariation() throws {
        let yaml = """
            name: p
            group:
              runs:
                - {label: cnn, adders: cnn}
              grid:
                gradient.filter: [fullPrecision, sign]
              seeds: [1, 2]
            """
        let set = ["gradient.filter=sign", "gradient.input=sign"]
        let plain = try Experiment.parse(yaml: yaml, overrides: set)
        #expect(plain.runs.map(\.name) == ["p-cnn-s1", "p-cnn-s2", "p-fullPrecision-s1", "p-fullPrecision-s2", "p-sign-s1", "p-sign-s2"])
        #expect(plain.runs[2].gradientRules.label == "fullPrecision/sign", "the grid wins over --set for its key (documented)")
        let pinned = try Experiment.parse(yaml: yaml, overrides: set, pinning: true)
        #expect(pinned.runs.map(\.name) == ["p-cnn-s1", "p-cnn-s2", "p-s1", "p-s2"])
        #expect(pinned.runs.map(\.gradientRules.label) == Array(repeating: "sign/sign", count: 4))
        let seeded = try Experiment.parse(yaml: yaml, overrides: ["seed=9", "adders=paper"], pinning: true)
        // The cnn entry keeps its label with nothing left to set; seeds are gone.
        #expect(seeded.runs.map(\.name) == ["p-cnn", "p-fullPrecision", "p-sign"])
        #expect(seeded.runs.map(\.seed) == Array(repeating: 9, count: seeded.runs.count))
        #expect(seeded.runs.allSatisfy { $0.adders == .paper })
    }

    /// A batch larger than the training images is found before anything starts.
    @Test func batchLargerThanTheTrainingSet() throws {
        func problem(_ yaml: String) throws -> String? { try Experiment.parse(yaml: "name: b\n" + yaml).runs[0].batchProblem }
        #expect(try problem("dataset: synthetic\nbatchSize: 64") == nil)
        #expect(try problem("dataset: synthetic\ntrainSamples: 10\nbatchSize: 64")
                == "batch 64 is more than the 10 training images (trainSamples): no batch would be made (the last partial batch is dropped)")
        #expect(try problem("dataset: synthetic\nbatchSize: 20000")
                == "batch 20000 is more than the 10000 training images of synthetic: no batch would be made (the last partial batch is dropped)")
        #expect(try problem("dataset: synthetic\nvalidationFraction: 0.5\nbatchSize: 6000")
                == "batch 6000 is more than the 5000 training images of synthetic: no batch would be made (the last partial batch is dropped)")
    }
}
