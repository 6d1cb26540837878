namespace Switchboard.Interface.Tests;

/// <summary>Runs alone: its tests measure what the process allocates, which tests running beside them would blur.</summary>
[CollectionDefinition(nameof(MemoryMeasurement), DisableParallelization = true)]
public sealed class MemoryMeasurement;
