import Foundation
import Testing
import RNNKernels
@testable import RNNKit

/// Optimiser and schedule runs computed by PyTorch (Tests/Fixtures/make_optimizer_fixtures.py).
enum OptimizerGolden {
    static let directory = Golden.directory.deletingLastPathComponent().appendingPathComponent("golden-optimizers")

    static var runNames: [String] {
        let manifest =
            (try? String(contentsOf: directory.appendingPathComponent("MANIFEST.txt"), encoding: .utf8)) ?? ""
        return manifest.split(separator: "\n").map(String.init).filter {
            $0.hasSuffix(".safetensors") && !$0.hasPrefix("schedules-")
        }
    }

    static func text(_ file: SafetensorsFile, _ key: String) throws -> String {
        guard let text = file.metadata[key] else {
            throw ModelError.metadata(key: key, problem: "missing", source: file.source)
        }
        return text
    }

    static func number(_ file: SafetensorsFile, _ key: String) throws -> Double {
        guard let value = Double(try text(file, key)) else {
            throw ModelError.metadata(key: key, problem: "not a number", source: file.source)
        }
        return value
    }

    static func numbers(_ file: SafetensorsFile, _ key: String) throws -> [Double] {
        try text(file, key).split(separator: ",").map { text in
            guard let value = Double(text) else {
                throw ModelError.metadata(key: key, problem: "holds '\(text)'", source: file.source)
            }
            return value
        }
    }

    /// The optimiser the fixture's `optimizer*` metadata describes.
    static func optimizer(_ file: SafetensorsFile) throws -> Optimizer {
        let learningRate = Float(try number(file, "optimizer_lr")),
            weightDecay = Float(try number(file, "optimizer_weight_decay"))
        switch try text(file, "optimizer") {
        case "sgd":
            return .sgd(
                learningRate: learningRate, momentum: Float(try number(file, "optimizer_momentum")),
                weightDecay: weightDecay)
        case "adam": return .adam(learningRate: learningRate, weightDecay: weightDecay)
        case "adamw": return .adamW(learningRate: learningRate, weightDecay: weightDecay)
        case let other:
            throw ModelError.metadata(key: "optimizer", problem: "names no optimiser: \(other)", source: file.source)
        }
    }

    /// The schedule the fixture's `<prefix>*` metadata describes.
    static func schedule(_ file: SafetensorsFile, prefix: String = "schedule") throws -> LearningRateSchedule {
        func count(_ key: String) throws -> Int { Int(try number(file, "\(prefix)_\(key)")) }
        switch try text(file, prefix) {
        case "constant": return .constant
        case "step": return .step(size: try count("step_size"), gamma: try number(file, "\(prefix)_gamma"))
        case "cosine": return .cosine(steps: try count("steps"), warmup: try count("warmup"))
        case "plateau": return .plateau(factor: try number(file, "\(prefix)_factor"), patience: try count("patience"))
        case let other:
            throw ModelError.metadata(key: prefix, problem: "names no schedule: \(other)", source: file.source)
        }
    }
}

/// `|got - want| / want`, 0 when both are 0.
private func relativeError(_ got: Double, _ want: Double) -> Double {
    got == want ? 0 : abs(got - want) / max(abs(want), .leastNormalMagnitude)
}

@Test(arguments: OptimizerGolden.runNames)
func optimizerAndScheduleMatchPyTorch(_ name: String) throws {
    let file = try SafetensorsFile(contentsOf: OptimizerGolden.directory.appendingPathComponent(name))
    let model = try Golden.model(from: file)
    let batch = try Golden.batch(from: file, configuration: model.configuration)
    let optimizer = try OptimizerGolden.optimizer(file)
    let schedule = try OptimizerGolden.schedule(file)
    let learningRates = try OptimizerGolden.numbers(file, "learning_rates")
    let metrics = schedule.isMetricDriven ? try OptimizerGolden.numbers(file, "metrics") : []
    let steps = Int(try OptimizerGolden.number(file, "steps"))
    try #require(learningRates.count == steps + 1)

    let trainer = Trainer(model: model, optimizer: optimizer, schedule: schedule, threads: 1)
    for step in 0...steps {
        // The schedule runs PyTorch's own Double arithmetic, so its rates agree to the last bit.
        #expect(
            relativeError(trainer.learningRate, learningRates[step]) <= 1e-12,
            "\(name): step \(step) learning rate \(trainer.learningRate), PyTorch \(learningRates[step])")
        #expect(trainer.learningRate.bitPattern == learningRates[step].bitPattern, "\(name): step \(step)")
        guard step < steps else { break }
        try trainer.step(batch)
        if schedule.isMetricDriven { try trainer.stepSchedule(metric: metrics[step]) }
    }
    // As the Adam goldens: Adam divides each gradient by its own magnitude,
    // so float32 rounding of near-zero gradients moves their updates a little more.
    let tolerance = optimizer.rule is SGD ? 1e-5 : 3e-5
    for parameter in model.parameterNames {
        expectClose(
            model.parameter(parameter)!, try file.floats("trained.\(parameter)"), tolerance: tolerance,
            "\(name) \(parameter)")
    }
}

@Test func scheduleRatesMatchPyTorchOverLongRuns() throws {
    let file = try SafetensorsFile(
        contentsOf: OptimizerGolden.directory.appendingPathComponent("schedules-long.safetensors"))
    let baseRate = try OptimizerGolden.number(file, "base_lr")
    let names = try OptimizerGolden.text(file, "names").split(separator: ",").map(String.init)
    #expect(names.count == 4)
    for name in names {
        let schedule = try OptimizerGolden.schedule(file, prefix: name)
        let learningRates = try OptimizerGolden.numbers(file, "\(name)_learning_rates")
        var scheduler = LearningRateScheduler(schedule: schedule, baseRate: baseRate)
        var mismatches = 0
        for (step, rate) in learningRates.enumerated() {
            if scheduler.rate.bitPattern != rate.bitPattern {
                mismatches += 1
                if mismatches <= 3 {
                    Issue.record("\(name): step \(step) learning rate \(scheduler.rate), PyTorch \(rate)")
                }
            }
            scheduler.advance()
        }
        #expect(mismatches == 0, "\(name): \(mismatches) of \(learningRates.count) rates differ")
    }
}

/// The warm-up is `SequentialLR([LinearLR(1/N, total_iters: N), CosineAnnealingLR(T_max: S)],
/// milestones: [N])`: the cosine starts at step N with the run's S steps as its period, not S - N,
/// so the last rate is not 0.
@Test func theCosineAfterAWarmUpKeepsTheRunsStepsAsItsPeriod() {
    let (steps, warmup, baseRate) = (10, 3, 0.02)
    var scheduler = LearningRateScheduler(schedule: .cosine(steps: steps, warmup: warmup), baseRate: baseRate)
    for step in 0...steps {
        let closedForm =
            step < warmup
            ? baseRate * (1.0 / Double(warmup) + (1 - 1.0 / Double(warmup)) * Double(step) / Double(warmup))
            : baseRate * (1 + cos(Double.pi * Double(step - warmup) / Double(steps))) / 2
        #expect(abs(scheduler.rate - closedForm) <= 1e-15, "step \(step): \(scheduler.rate), closed form \(closedForm)")
        if step < steps { scheduler.advance() }
    }
    // At step S the cosine is at its epoch S - N of S: (1 + cos(0.7π)) / 2 of the base rate.
    #expect(scheduler.rate > 0.2 * baseRate)
}

// MARK: Resuming mid-schedule

/// Each optimiser and schedule, with a metric per step for the plateau.
private let resumedRuns: [(optimizer: Optimizer, schedule: LearningRateSchedule)] = [
    (.adamW(learningRate: 0.01, weightDecay: 0.05), .constant),
    (.sgd(learningRate: 0.1, momentum: 0.9), .step(size: 2, gamma: 0.5)),
    (.adam(learningRate: 0.01), .cosine(steps: 10)),
    (.adamW(learningRate: 0.02), .cosine(steps: 10, warmup: 3)),
    (.adam(learningRate: 0.01), .plateau(factor: 0.5, patience: 3))
]
/// Three bad epochs before the checkpoint at step 5, the reduction after it.
private let plateauMetrics: [Double] = [1, 0.9, 0.95, 0.96, 0.97, 0.98, 0.6, 0.7, 0.8, 0.9]

@Test(arguments: resumedRuns.indices)
func aRunResumedMidScheduleIsBitIdentical(_ index: Int) throws {
    let (optimizer, schedule) = resumedRuns[index]
    let file = try SafetensorsFile(
        contentsOf: Golden.directory.appendingPathComponent("lstm-uni-l1-var-many_to_many-mse-dense.safetensors"))
    let start = try Golden.model(from: file)
    let batch = try Golden.batch(from: file, configuration: start.configuration)
    func train(_ trainer: Trainer, steps: Range<Int>) throws {
        for step in steps {
            try trainer.step(batch)
            if schedule.isMetricDriven { try trainer.stepSchedule(metric: plateauMetrics[step]) }
        }
    }

    let straight = start.copy()
    let uninterrupted = Trainer(model: straight, optimizer: optimizer, schedule: schedule, threads: 2)
    try train(uninterrupted, steps: 0..<10)

    let first = Trainer(model: start.copy(), optimizer: optimizer, schedule: schedule, threads: 2)
    try train(first, steps: 0..<5)
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
        "resume-\(index)-\(UUID().uuidString).safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try first.checkpoint().write(to: url)
    let checkpoint = try Checkpoint(contentsOf: url)
    #expect((checkpoint.file.metadata["schedule"] != nil) == (schedule != .constant))
    let resumedModel = try checkpoint.model()
    let resumed = Trainer(model: resumedModel, optimizer: optimizer, schedule: schedule, threads: 1)
    try resumed.restoreOptimizer(from: checkpoint)
    #expect(resumed.stepCount == 5)
    #expect(resumed.learningRate.bitPattern == first.learningRate.bitPattern)
    #expect(resumed.rateScheduler == first.rateScheduler)
    if schedule.isMetricDriven { #expect(resumed.rateScheduler.badEpochs == 3) }
    try train(resumed, steps: 5..<10)

    #expect(resumed.learningRate.bitPattern == uninterrupted.learningRate.bitPattern, "\(schedule)")
    for name in straight.parameterNames {
        #expect(
            resumedModel.parameter(name)!.map(\.bitPattern) == straight.parameter(name)!.map(\.bitPattern),
            "\(optimizer) \(schedule) \(name)")
    }
}

@Test func aCheckpointResumesOnlyUnderItsOwnSchedule() throws {
    let file = try SafetensorsFile(
        contentsOf: Golden.directory.appendingPathComponent("lstm-uni-l1-var-many_to_many-mse-dense.safetensors"))
    let model = try Golden.model(from: file)
    let batch = try Golden.batch(from: file, configuration: model.configuration)
    let cosine = Trainer(model: model.copy(), optimizer: .adam(), schedule: .cosine(steps: 10), threads: 1)
    try cosine.step(batch)
    let checkpoint = cosine.checkpoint()
    #expect(checkpoint.file.metadata["schedule"] == "cosine(steps=10, warmup=0)")
    #expect(throws: ModelError.self) {
        try Trainer(model: model.copy(), optimizer: .adam(), schedule: .cosine(steps: 11), threads: 1).restoreOptimizer(
            from: checkpoint)
    }
    #expect(throws: ModelError.self) {
        try Trainer(model: model.copy(), optimizer: .adam(), threads: 1).restoreOptimizer(from: checkpoint)
    }
    #expect(throws: ModelError.self) {
        try Trainer(model: model.copy(), optimizer: .adamW(), schedule: .cosine(steps: 10), threads: 1)
            .restoreOptimizer(from: checkpoint)
    }
    for state in [
        "", "epoch=1 lr=nan best=inf bad_epochs=0", "epoch=1 lr=-1 best=inf bad_epochs=0", "epoch=1 lr=0.1 best=inf",
        "epoch=-1 lr=0.1 best=inf bad_epochs=0", "epoch=1 lr=0.1 best=nan bad_epochs=0",
        "epoch=1 epoch=1 lr=0.1 best=inf"
    ] {
        var edited = checkpoint
        edited.file.metadata["schedule_state"] = state
        #expect(throws: ModelError.self, "\(state)") {
            try Trainer(model: model.copy(), optimizer: .adam(), schedule: .cosine(steps: 10), threads: 1)
                .restoreOptimizer(from: edited)
        }
    }

    // A constant rate writes the checkpoint as before schedules existed, and reads one without them.
    let constant = Trainer(model: model.copy(), optimizer: .adam(), threads: 1)
    try constant.step(batch)
    let plain = constant.checkpoint()
    #expect(plain.file.metadata.keys.filter { $0.hasPrefix("schedule") }.isEmpty)
    #expect(
        Set(plain.file.tensors.keys.filter { $0.hasPrefix("optimizer.") }.map { $0.split(separator: ".")[1] }) == [
            "exp_avg", "exp_avg_sq"
        ])
    try Trainer(model: model.copy(), optimizer: .adam(), threads: 1).restoreOptimizer(from: plain)
    #expect(throws: ModelError.self) {
        try Trainer(model: model.copy(), optimizer: .adam(), schedule: .step(size: 3), threads: 1).restoreOptimizer(
            from: plain)
    }
}

// MARK: The update rules

/// The canonical descriptions are the checkpoints' `optimizer` field: they
/// must not change, or older checkpoints stop resuming.
@Test func optimizerDescriptionsAreStable() {
    #expect(
        Optimizer.sgd(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01).description
            == "sgd(lr=0.1, momentum=0.9, weight_decay=0.01)")
    #expect(Optimizer.adam().description == "adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0)")
    #expect(Optimizer.adamW().description == "adamw(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01)")
    #expect(Optimizer.sgd(learningRate: 0.1).rule.stateNames == [])
    #expect(Optimizer.sgd(learningRate: 0.1, momentum: 0.5).rule.stateNames == ["momentum_buffer"])
    #expect(Optimizer.adamW().rule.stateNames == ["exp_avg", "exp_avg_sq"])
    #expect(Optimizer.adam() != Optimizer.adamW(weightDecay: 0))
    #expect(Optimizer.adam(learningRate: 0.01) == Optimizer(Adam(learningRate: 0.01)))
}

/// Each trainer step is exactly its rule's kernels applied to the reduced
/// gradient: the same calls, arguments and order as before the rules were
/// split into files, so trained weights stay bit-identical.
@Test(arguments: ["sgd", "adam", "adamw"])
func aStepIsExactlyTheRulesKernels(_ kind: String) throws {
    let file = try SafetensorsFile(
        contentsOf: Golden.directory.appendingPathComponent("gru-uni-l1-var-many_to_many-mse-dense.safetensors"))
    let model = try Golden.model(from: file)
    let batch = try Golden.batch(from: file, configuration: model.configuration)
    let optimizer: Optimizer =
        switch kind {
        case "sgd": .sgd(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        case "adam": .adam(learningRate: 0.01, weightDecay: 0.01)
        default: .adamW(learningRate: 0.01, weightDecay: 0.1)
        }
    let trainer = Trainer(model: model, optimizer: optimizer, threads: 3)
    let count = model.layout.totalCount
    let expected = AlignedBuffer(count: count), first = AlignedBuffer(count: count),
        second = AlignedBuffer(count: count)
    expected.baseAddress.update(from: model.parameters.baseAddress, count: count)
    for step in 0..<3 {
        var gradient = [Float](repeating: 0, count: count)
        let (_, named) = try trainer.gradients(batch)
        for entry in model.layout.entries {
            gradient.replaceSubrange(entry.offset..<entry.offset + entry.count, with: named[entry.name]!)
        }
        switch kind {
        case "sgd":
            Kernels.current.sgdUpdate(
                parameters: expected.baseAddress, gradients: gradient, momentum: first.baseAddress, count: count,
                learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, firstStep: step == 0)
        case "adam":
            Kernels.current.adamUpdate(
                parameters: expected.baseAddress, gradients: gradient, firstMoment: first.baseAddress,
                secondMoment: second.baseAddress, count: count, learningRate: 0.01, beta1: 0.9, beta2: 0.999,
                epsilon: 1e-8, weightDecay: 0.01, step: step + 1)
        default:
            Kernels.current.scale(
                expected.baseAddress, count: count, by: Float(1 - Double(Float(0.01)) * Double(Float(0.1))))
            Kernels.current.adamUpdate(
                parameters: expected.baseAddress, gradients: gradient, firstMoment: first.baseAddress,
                secondMoment: second.baseAddress, count: count, learningRate: 0.01, beta1: 0.9, beta2: 0.999,
                epsilon: 1e-8, weightDecay: 0, step: step + 1)
        }
        try trainer.step(batch)
        #expect(
            Array(model.parameters.buffer).map(\.bitPattern) == Array(expected.buffer).map(\.bitPattern),
            "\(kind) step \(step)")
    }
}

@Test func unusableOptimizerAndScheduleSettingsAreRefused() throws {
    let file = try SafetensorsFile(
        contentsOf: Golden.directory.appendingPathComponent("gru-uni-l1-var-many_to_many-mse-dense.safetensors"))
    let model = try Golden.model(from: file)
    let batch = try Golden.batch(from: file, configuration: model.configuration)
    let before = Array(model.parameters.buffer)
    let settings: [(Optimizer, LearningRateSchedule)] = [
        (.adamW(learningRate: -1), .constant), (.adamW(weightDecay: .nan), .constant), (.adamW(beta2: 1), .constant),
        (.adamW(epsilon: -1e-8), .constant), (.sgd(learningRate: .infinity), .constant),
        (.adam(), .step(size: 0)), (.adam(), .step(size: 2, gamma: -0.1)), (.adam(), .step(size: 2, gamma: .nan)),
        (.adam(), .cosine(steps: 0)), (.adam(), .cosine(steps: 5, warmup: 5)), (.adam(), .cosine(steps: 5, warmup: -1)),
        (.adam(), .plateau(factor: 1)), (.adam(), .plateau(factor: .nan)), (.adam(), .plateau(factor: -0.5)),
        (.adam(), .plateau(patience: -1))
    ]
    for (optimizer, schedule) in settings {
        let trainer = Trainer(model: model, optimizer: optimizer, schedule: schedule, threads: 1)
        #expect(throws: ModelError.self, "\(optimizer) \(schedule)") { try trainer.step(batch) }
    }
    #expect(Array(model.parameters.buffer) == before)
    let cosine = Trainer(model: model, optimizer: .adam(), schedule: .cosine(steps: 5), threads: 1)
    #expect(throws: ModelError.self) { try cosine.stepSchedule(metric: 1) }
    let plateau = Trainer(
        model: model, optimizer: .adam(learningRate: 0.1), schedule: .plateau(factor: 0.5, patience: 0), threads: 1)
    try plateau.stepSchedule(metric: 1)
    try plateau.stepSchedule(metric: .nan)
    #expect(plateau.learningRate == Double(Float(0.1)) * 0.5, "a NaN metric is no improvement")
}

/// Seeded edits of a plateau checkpoint's schedule state: each restores to a
/// usable rate or is refused with a typed error, never a crash or a NaN rate.
@Test func mutatedScheduleStatesRestoreOrAreRefused() throws {
    let file = try SafetensorsFile(
        contentsOf: Golden.directory.appendingPathComponent("gru-uni-l1-var-many_to_many-mse-dense.safetensors"))
    let model = try Golden.model(from: file)
    let batch = try Golden.batch(from: file, configuration: model.configuration)
    let schedule = LearningRateSchedule.plateau(factor: 0.5, patience: 1)
    let trainer = Trainer(model: model.copy(), optimizer: .adam(), schedule: schedule, threads: 1)
    try trainer.step(batch)
    try trainer.stepSchedule(metric: 1)
    let original = trainer.checkpoint()
    let fields = try #require(original.file.metadata["schedule_state"]).split(separator: " ").map(String.init)
    let values = [
        "", "0", "-0", "-1", "1e-300", "5e-324", "inf", "-inf", "nan", "1e308", "281474976710656", "281474976710657",
        "9223372036854775807", "0x10", "1_000", " 1", "1 ", "=", "lr", "🦀"
    ]
    var generator = SeededGenerator(seed: 0x5C4E)
    var (loaded, refused) = (0, 0)
    for _ in 0..<400 {
        var edited = fields
        switch generator.next() % 4 {
        case 0: edited.remove(at: Int(generator.next() % UInt64(edited.count)))
        case 1: edited.append(edited[Int(generator.next() % UInt64(edited.count))])
        default:
            let index = Int(generator.next() % UInt64(edited.count))
            let key = edited[index].split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
            edited[index] = key + "=" + values[Int(generator.next() % UInt64(values.count))]
        }
        var checkpoint = original
        checkpoint.file.metadata["schedule_state"] = edited.joined(separator: " ")
        let resumed = Trainer(model: model.copy(), optimizer: .adam(), schedule: schedule, threads: 1)
        do {
            try resumed.restoreOptimizer(from: checkpoint)
            #expect(resumed.learningRate.isFinite && resumed.learningRate >= 0, "\(edited)")
            try resumed.stepSchedule(metric: 2)
            try resumed.step(batch)
            loaded += 1
        } catch is ModelError {
            refused += 1
        }
    }
    #expect(loaded > 20 && refused > 100, "loaded \(loaded), refused \(refused)")
}
