namespace Sharpgrad.NN;

/// <summary>Sets an optimizer's learning rate from a step counter; call <see cref="Step"/> once per epoch or batch as the schedule says.</summary>
public abstract class LrScheduler
{
    /// <summary>Schedules <paramref name="optimizer"/>, setting the rate for step 0 now.</summary>
    protected LrScheduler(Optimizer optimizer)
    {
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        BaseLr = optimizer.InitialLr;
    }

    /// <summary>The optimizer driven.</summary>
    public Optimizer Optimizer { get; }

    /// <summary>The learning rate at step 0.</summary>
    public double BaseLr { get; }

    /// <summary>Steps taken so far.</summary>
    public int LastStep { get; private set; }

    /// <summary>The learning rate at step <paramref name="step"/>.</summary>
    public abstract double LrAt(int step);

    /// <summary>Advances one step and applies the new rate.</summary>
    public void Step()
    {
        LastStep++;
        Apply();
    }

    /// <summary>Jumps to <paramref name="step"/> (for resuming).</summary>
    public void SetStep(int step)
    {
        LastStep = step;
        Apply();
    }

    /// <summary>Applies the rate (and momentum, for schedules that cycle it) for <see cref="LastStep"/>.</summary>
    protected virtual void Apply() => Optimizer.Lr = LrAt(LastStep);
}

/// <summary>lr = base gamma^(step / stepSize), as torch.optim.lr_scheduler.StepLR.</summary>
public sealed class StepLr : LrScheduler
{
    /// <summary>Creates the schedule.</summary>
    public StepLr(Optimizer optimizer, int stepSize, double gamma = 0.1) : base(optimizer)
    {
        if (stepSize < 1) throw new ArgumentOutOfRangeException(nameof(stepSize), $"StepLr: step size must be positive, got {stepSize}.");
        StepSize = stepSize;
        Gamma = gamma;
        Apply();
    }

    /// <summary>Steps between decays.</summary>
    public int StepSize { get; }

    /// <summary>Decay factor.</summary>
    public double Gamma { get; }

    /// <inheritdoc/>
    public override double LrAt(int step) => BaseLr * Math.Pow(Gamma, step / StepSize);
}

/// <summary>lr = min + (base - min)(1 + cos(pi step / TMax)) / 2, as CosineAnnealingLR (closed form).</summary>
public sealed class CosineAnnealingLr : LrScheduler
{
    /// <summary>Creates the schedule.</summary>
    public CosineAnnealingLr(Optimizer optimizer, int tMax, double etaMin = 0) : base(optimizer)
    {
        if (tMax < 1) throw new ArgumentOutOfRangeException(nameof(tMax), $"CosineAnnealingLr: TMax must be positive, got {tMax}.");
        TMax = tMax;
        EtaMin = etaMin;
        Apply();
    }

    /// <summary>Steps in half a cosine period.</summary>
    public int TMax { get; }

    /// <summary>Lowest rate.</summary>
    public double EtaMin { get; }

    /// <inheritdoc/>
    public override double LrAt(int step) => EtaMin + (BaseLr - EtaMin) * (1 + Math.Cos(Math.PI * step / TMax)) / 2;
}

/// <summary>
/// One-cycle policy, as torch.optim.lr_scheduler.OneCycleLR with cosine annealing: the rate rises from
/// max/divFactor to max over pctStart of the steps, then falls to max/(divFactor finalDivFactor); momentum
/// (SGD momentum or Adam beta1) cycles the other way between maxMomentum and baseMomentum.
/// </summary>
public sealed class OneCycleLr : LrScheduler
{
    /// <summary>Creates the schedule; call <see cref="LrScheduler.Step"/> after every optimizer step.</summary>
    public OneCycleLr(Optimizer optimizer, double maxLr, int totalSteps, double pctStart = 0.3, double divFactor = 25, double finalDivFactor = 1e4,
        bool cycleMomentum = true, double baseMomentum = 0.85, double maxMomentum = 0.95) : base(optimizer)
    {
        if (totalSteps < 2) throw new ArgumentOutOfRangeException(nameof(totalSteps), $"OneCycleLr: total steps must be at least 2, got {totalSteps}.");
        if (!(pctStart > 0 && pctStart < 1)) throw new ArgumentOutOfRangeException(nameof(pctStart), $"OneCycleLr: pctStart must be in (0, 1), got {pctStart}.");
        MaxLr = maxLr;
        TotalSteps = totalSteps;
        InitialRate = maxLr / divFactor;
        MinRate = InitialRate / finalDivFactor;
        _phase1End = pctStart * totalSteps - 1;
        CycleMomentum = cycleMomentum && optimizer.CyclicMomentum is not null;
        BaseMomentum = baseMomentum;
        MaxMomentum = maxMomentum;
        Apply();
    }

    private readonly double _phase1End;

    /// <summary>Peak rate.</summary>
    public double MaxLr { get; }

    /// <summary>Steps in the cycle.</summary>
    public int TotalSteps { get; }

    /// <summary>Rate at step 0.</summary>
    public double InitialRate { get; }

    /// <summary>Rate at the last step.</summary>
    public double MinRate { get; }

    /// <summary>Whether momentum is cycled.</summary>
    public bool CycleMomentum { get; }

    /// <summary>Momentum at the peak rate.</summary>
    public double BaseMomentum { get; }

    /// <summary>Momentum at the start and end.</summary>
    public double MaxMomentum { get; }

    private static double Cos(double start, double end, double pct) => end + (start - end) / 2 * (Math.Cos(Math.PI * pct) + 1);

    private (double Lr, double Momentum) At(int step)
    {
        if (step > TotalSteps)
            throw new InvalidOperationException($"OneCycleLr: stepped {step} times, beyond the {TotalSteps} total steps it was created for.");
        if (step <= _phase1End)
        {
            double pct = step / _phase1End;
            return (Cos(InitialRate, MaxLr, pct), Cos(MaxMomentum, BaseMomentum, pct));
        }
        double pct2 = (step - _phase1End) / (TotalSteps - 1 - _phase1End);
        return (Cos(MaxLr, MinRate, pct2), Cos(BaseMomentum, MaxMomentum, pct2));
    }

    /// <inheritdoc/>
    public override double LrAt(int step) => At(step).Lr;

    /// <summary>The momentum at <paramref name="step"/>.</summary>
    public double MomentumAt(int step) => At(step).Momentum;

    /// <inheritdoc/>
    protected override void Apply()
    {
        var (lr, m) = At(LastStep);
        Optimizer.Lr = lr;
        if (CycleMomentum) Optimizer.CyclicMomentum = m;
    }
}
