using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Switchboard;

/// <summary>
/// Makes a configured list replace its default instead of extending it. The configuration binder adds the items of a
/// configured list to the items a <c>List&lt;string&gt;</c> property already holds, so an administrator who sets
/// <c>Access:AllowedClients</c> to one subnet, <c>OutsideCalls:AllowedDevices</c> to one extension or
/// <c>Sip:Devices</c> to other numbers would silently keep every default entry as well — for access lists the
/// opposite of what was asked.
/// </summary>
internal static class ConfiguredLists
{
    /// <summary>Binds <typeparamref name="T"/> from <paramref name="section"/>, configured string lists replacing the defaults.</summary>
    public static IServiceCollection ConfigureReplacingLists<T>(this IServiceCollection services, IConfiguration section) where T : class
    {
        services.Configure<T>(section);
        services.PostConfigure<T>(o => Replace(o, section));
        return services;
    }

    /// <summary>Sets every configured <c>List&lt;string&gt;</c> property of <paramref name="options"/> to exactly the configured items.</summary>
    public static void Replace(object options, IConfiguration section)
    {
        foreach (var property in options.GetType().GetProperties())
        {
            if (property.PropertyType != typeof(List<string>) || !property.CanWrite) continue;
            var items = section.GetSection(property.Name).GetChildren().Select(c => c.Value).OfType<string>().ToList();
            if (items.Count > 0) property.SetValue(options, items);
        }
    }
}
