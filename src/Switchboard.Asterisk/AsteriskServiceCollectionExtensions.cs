using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Switchboard.Telephony;

namespace Switchboard.Asterisk;

/// <summary>Registers the Asterisk connector with the Generic Host.</summary>
public static class AsteriskServiceCollectionExtensions
{
    /// <summary>
    /// Adds <see cref="AsteriskPhoneSystem"/> as <see cref="ICallControl"/> and as a hosted service. Expects a
    /// <see cref="CallModel"/> to be registered (built over the configured devices).
    /// </summary>
    public static IServiceCollection AddAsteriskPhoneSystem(this IServiceCollection services, IConfiguration section)
    {
        services.AddSingleton(_ => AsteriskOptions.FromConfiguration(section));
        services.AddSingleton(sp => new AsteriskPhoneSystem(sp.GetRequiredService<CallModel>(), sp.GetRequiredService<AsteriskOptions>(),
            sp.GetService<ILoggerFactory>()));
        services.AddSingleton<ICallControl>(sp => sp.GetRequiredService<AsteriskPhoneSystem>());
        services.AddHostedService(sp => sp.GetRequiredService<AsteriskPhoneSystem>());
        return services;
    }
}
