using System.Reflection;

namespace Switchboard.Web;

/// <summary>The console's static files, embedded in the executable (no build step, nothing to deploy beside it).</summary>
internal static class ConsoleAssets
{
    public static readonly string IndexHtml = Read("index.html");
    public static readonly string Script = Read("console.js");
    public static readonly string Style = Read("console.css");
    public static readonly string LoginHtml = Read("login.html");
    public static readonly string LoginStyle = Read("login.css");

    private static string Read(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("console/" + name)
            ?? throw new InvalidOperationException($"console file {name} is not embedded");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
