using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Switchboard.Telephony;

namespace Switchboard.Webhooks;

/// <summary>Registers the webhooks in the host.</summary>
public static class WebhookServiceCollectionExtensions
{
    /// <summary>
    /// Reads <paramref name="section"/> (<c>Webhooks</c>) and, when it names receivers, puts the journal tap in front of the
    /// registered <see cref="ICallJournal"/> and runs the dispatcher as a hosted service. Call it after the journal and
    /// <see cref="CallEventHub"/> are registered. A configuration error throws what <paramref name="configurationError"/>
    /// makes of its message (by default a <see cref="FormatException"/>).
    /// </summary>
    public static IServiceCollection AddSwitchboardWebhooks(this IServiceCollection services, IConfiguration section,
        Func<string, Exception>? configurationError = null)
    {
        IReadOnlyList<WebhookReceiverOptions> receivers;
        try
        {
            receivers = WebhookReceiverOptions.FromConfiguration(section);
        }
        catch (FormatException e) when (configurationError is not null)
        {
            throw configurationError(e.Message);
        }
        if (receivers.Count == 0) return services;

        var journal = services.LastOrDefault(d => d.ServiceType == typeof(ICallJournal))
            ?? throw new InvalidOperationException("AddSwitchboardWebhooks needs ICallJournal registered first");
        services.Remove(journal);
        var wanted = receivers.Aggregate(WebhookEvents.None, (all, r) => all | r.Events);
        services.AddSingleton(sp => new WebhookJournalTap(Resolve(sp, journal), sp.GetRequiredService<CallEventHub>(), wanted));
        services.AddSingleton<ICallJournal>(sp => sp.GetRequiredService<WebhookJournalTap>());
        services.AddSingleton(sp => new WebhookDispatcher(receivers, sp.GetRequiredService<CallEventHub>(),
            sp.GetRequiredService<WebhookJournalTap>(), sp.GetRequiredService<ILoggerFactory>()));
        services.AddHostedService(sp => sp.GetRequiredService<WebhookDispatcher>());
        return services;
    }

    private static ICallJournal Resolve(IServiceProvider sp, ServiceDescriptor d) =>
        (ICallJournal)(d.ImplementationInstance
            ?? d.ImplementationFactory?.Invoke(sp)
            ?? ActivatorUtilities.CreateInstance(sp, d.ImplementationType!));
}
