import Foundation

/// How the learning rate moves during training, each as a PyTorch scheduler
/// with the same arithmetic: rates are computed in `Double` by PyTorch's own
/// (recursive) formulas and rounded to `Float` only for the update, so the
/// rate of every step equals PyTorch's bit for bit.
///
/// All but `.plateau` advance once per applied optimiser step: the rate of
/// step `k` (from 0) is the scheduler's after `k` calls of `step()`, as in a
/// PyTorch loop that calls `optimizer.step()` then `scheduler.step()`.
///
/// ```swift
/// let trainer = Trainer(model: model, optimizer: .adamW(learningRate: 3e-3),
///                       schedule: .cosine(steps: 1000, warmup: 50))
/// ```
public enum LearningRateSchedule: Sendable, Equatable, CustomStringConvertible {
    /// The optimiser's rate throughout.
    case constant
    /// `StepLR(step_size: size, gamma)`: the rate is multiplied by `gamma`
    /// every `size` steps.
    case step(size: Int, gamma: Double = 0.1)
    /// `CosineAnnealingLR(T_max: steps, eta_min: 0)` over a run of `steps`
    /// steps. With `warmup` N > 0, `SequentialLR(schedulers:
    /// [LinearLR(start_factor: 1/N, total_iters: N), CosineAnnealingLR(T_max:
    /// steps, eta_min: 0)], milestones: [N])`: the cosine keeps `T_max =
    /// steps` and starts at the milestone, so at step `steps` it is at its
    /// epoch `steps - N` and the rate has not yet reached 0.
    case cosine(steps: Int, warmup: Int = 0)
    /// `ReduceLROnPlateau(mode: 'min', factor, patience, threshold: 1e-4,
    /// threshold_mode: 'rel', cooldown: 0, min_lr: 0, eps: 1e-8)`, stepped
    /// with a metric by ``Trainer/stepSchedule(metric:)`` (once per epoch,
    /// say, with its mean loss), not by optimiser steps.
    case plateau(factor: Double = 0.1, patience: Int = 10)

    /// True when the schedule moves only with metrics (``Trainer/stepSchedule(metric:)``).
    public var isMetricDriven: Bool {
        if case .plateau = self { true } else { false }
    }

    /// Throws ``ModelError/invalidSetting(_:)`` for settings PyTorch's
    /// schedulers refuse or that cannot make a schedule: a step size or run
    /// below 1, a warm-up not shorter than the run, a plateau factor outside
    /// `0..<1`, a negative patience or gamma, a NaN.
    public func validate() throws(ModelError) {
        switch self {
        case .constant: return
        case .step(let size, let gamma):
            guard size >= 1 else { throw .invalidSetting("the step schedule's size is \(size), expected at least 1") }
            guard gamma >= 0, gamma.isFinite else {
                throw .invalidSetting("the step schedule's gamma is \(gamma), expected a finite value >= 0")
            }
        case .cosine(let steps, let warmup):
            guard steps >= 1 else {
                throw .invalidSetting("the cosine schedule spans \(steps) steps, expected at least 1")
            }
            guard warmup >= 0, warmup < steps else {
                throw .invalidSetting(
                    "the cosine schedule's warm-up is \(warmup) steps, expected 0..<\(steps) (its steps)")
            }
        case .plateau(let factor, let patience):
            guard factor >= 0, factor < 1 else {
                throw .invalidSetting("the plateau factor is \(factor), expected a value in 0..<1")
            }
            guard patience >= 0 else {
                throw .invalidSetting("the plateau patience is \(patience), expected a count >= 0")
            }
        }
    }

    /// A canonical spelling of the schedule and its settings; checkpoints
    /// store it, and refuse to resume under another.
    public var description: String {
        switch self {
        case .constant: "constant"
        case .step(let size, let gamma): "step(step_size=\(size), gamma=\(gamma))"
        case .cosine(let steps, let warmup): "cosine(steps=\(steps), warmup=\(warmup))"
        case .plateau(let factor, let patience): "plateau(factor=\(factor), patience=\(patience), threshold=0.0001)"
        }
    }
}

/// A schedule's position: the fields of PyTorch's scheduler state that decide
/// the next rate (`last_epoch`, the group's `lr`, plateau's `best` and
/// `num_bad_epochs`).
struct LearningRateScheduler: Equatable {
    let schedule: LearningRateSchedule
    /// The optimiser's rate, PyTorch's `base_lrs[0]`.
    let baseRate: Double
    /// The rate of the next step, PyTorch's `param_groups[0]['lr']`.
    private(set) var rate: Double
    /// Scheduler steps taken (optimiser steps, or metrics for `.plateau`).
    private(set) var epoch = 0
    /// Plateau: the best metric so far, and the metrics since it.
    private(set) var best = Double.infinity
    private(set) var badEpochs = 0

    /// Plateau's relative threshold, and the smallest change of rate it applies.
    static let plateauThreshold = 1e-4, plateauEpsilon = 1e-8

    init(schedule: LearningRateSchedule, baseRate: Double) {
        self.schedule = schedule
        self.baseRate = baseRate
        rate = baseRate
        // LinearLR's initial step: `lr * start_factor`.
        if case .cosine(_, let warmup) = schedule, warmup > 0 { rate = baseRate * (1.0 / Double(warmup)) }
    }

    /// One scheduler step after an optimiser step (`scheduler.step()`).
    mutating func advance() {
        switch schedule {
        case .constant, .plateau: return
        case .step(let size, let gamma):
            epoch += 1
            if epoch % size == 0 { rate = rate * gamma }
        case .cosine(let steps, let warmup):
            epoch += 1
            if epoch < warmup {
                // LinearLR.get_lr with end_factor 1 and total_iters = warmup.
                let start = 1.0 / Double(warmup), change = 1.0 - start
                rate = rate * (1.0 + change / (Double(warmup) * start + Double(epoch - 1) * change))
            } else if warmup > 0 && epoch == warmup {
                // SequentialLR's milestone: `_update_lr(0)`, the cosine's closed form at its epoch 0.
                rate = baseRate * (1 + cos(Double.pi * 0 / Double(steps))) / 2
            } else {
                // The cosine's own epoch counts from the milestone; its period stays the run's steps.
                rate = Self.cosineStep(rate: rate, baseRate: baseRate, epoch: epoch - warmup, period: steps)
            }
        }
    }

    /// `CosineAnnealingLR.get_lr` at `last_epoch = epoch >= 1`, `T_max = period`,
    /// `eta_min = 0`: the recursive form, which PyTorch uses on every `step()`.
    static func cosineStep(rate: Double, baseRate: Double, epoch: Int, period: Int) -> Double {
        let minimum = 0.0
        if (epoch - 1 - period) % (2 * period) == 0 {
            return rate + (baseRate - minimum) * (1 - cos(Double.pi / Double(period))) / 2
        }
        return (1 + cos(Double.pi * Double(epoch) / Double(period)))
            / (1 + cos(Double.pi * Double(epoch - 1) / Double(period)))
            * (rate - minimum) + minimum
    }

    /// `ReduceLROnPlateau.step(metric)`; other schedules ignore metrics.
    mutating func observe(metric: Double) {
        guard case .plateau(let factor, let patience) = schedule else { return }
        epoch += 1
        if metric < best * (1.0 - Self.plateauThreshold) {
            best = metric
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if badEpochs > patience {
            let reduced = max(rate * factor, 0)
            if rate - reduced > Self.plateauEpsilon { rate = reduced }
            badEpochs = 0
        }
    }

    /// The state as one line (`epoch=12 lr=0.00075 best=inf bad_epochs=0`),
    /// every number written so that it reads back exactly.
    var stateDescription: String { "epoch=\(epoch) lr=\(rate) best=\(best) bad_epochs=\(badEpochs)" }

    /// Restores a state written by `stateDescription`; false, changing nothing, when `text` is not one.
    mutating func restore(_ text: String) -> Bool {
        var fields: [String: String] = [:]
        for field in text.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, fields[String(parts[0])] == nil else { return false }
            fields[String(parts[0])] = String(parts[1])
        }
        // Counts no run reaches in practice, far from where counting on overflows.
        guard fields.count == 4, let epoch = fields["epoch"].flatMap({ Int($0) }), (0...(1 << 48)).contains(epoch),
            let rate = fields["lr"].flatMap({ Double($0) }), rate >= 0, rate.isFinite,
            let best = fields["best"].flatMap({ Double($0) }), !best.isNaN,
            let badEpochs = fields["bad_epochs"].flatMap({ Int($0) }), (0...(1 << 48)).contains(badEpochs)
        else { return false }
        (self.epoch, self.rate, self.best, self.badEpochs) = (epoch, rate, best, badEpochs)
        return true
    }
}
