namespace Switchboard.Interface.DialFiles;

/// <summary>Settings of the dial-file directory (configuration section "DialFiles").</summary>
public sealed class DialFileOptions
{
    /// <summary>Watch the directory at all.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The directory watched for *.CTI files; relative paths are taken from the start directory.</summary>
    public string Directory { get; set; } = "dial";

    /// <summary>How often the directory is scanned in addition to change notifications (network shares often send none).</summary>
    public TimeSpan ScanInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>A file must be unchanged (size and time) for this long before it is taken as complete.</summary>
    public TimeSpan SettleTime { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Largest dial file read; larger files are moved to failed/ unread.</summary>
    public long MaxFileBytes { get; set; } = 1024 * 1024;
}
