/**
 * The dashboard's settings page (admins only): the status page's site name, about text
 * (Markdown), extra stylesheet and date language, through the page settings service. The change
 * is audited (`settings.update`) and shows on the status page's next view: `kit.act` empties the
 * page cache (the same cache `app.statusPage.invalidate()` empties) once it has committed.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { validationError } from '../../http/errors.js';
import { ABOUT_MAX, SITE_NAME_MAX, STYLESHEET_URL_MAX, type PageSettings, type PageSettingsService } from '../settings/settings.service.js';
import { attempt, form, sentValues, type FormValues } from './dashboard.content-forms.js';
import { field, type Kit } from './dashboard.kit.js';

export interface SettingsPagesDeps {
  /** The status page's settings (buildApp's `pageSettings`). */
  pageSettings: PageSettingsService;
}

const SETTINGS_FIELDS = ['site_name', 'about', 'stylesheet_url', 'locale'] as const;

function settingsValues(s: PageSettings): FormValues {
  return { site_name: s.siteName, about: s.about, stylesheet_url: s.stylesheetUrl ?? '', locale: s.locale };
}

/** The settings page group (section `settings`); every route is admin-only. */
export function settingsPages({ pageSettings }: SettingsPagesDeps) {
  return (app: FastifyInstance, kit: Kit): void => {
    const settingsPage = (request: FastifyRequest, reply: FastifyReply, values: FormValues, errors: string[] = [], status = 200) =>
      kit.html(request, reply, 'settings', {
        title: 'Settings',
        section: 'settings',
        values,
        errors,
        defaults: pageSettings.defaults,
        limits: { siteName: SITE_NAME_MAX, about: ABOUT_MAX, stylesheetUrl: STYLESHEET_URL_MAX },
      }, status);

    app.get('/dashboard/settings', { config: { adminOnly: true }, schema: { hide: true } }, async (request, reply) =>
      settingsPage(request, reply, settingsValues(await pageSettings.get(kit.db))),
    );

    app.post('/dashboard/settings', { config: { adminOnly: true }, schema: { hide: true } }, async (request, reply) => {
      const body = request.body;
      const input = {
        siteName: field(body, 'site_name'),
        about: form.multiline(body, 'about'),
        stylesheetUrl: field(body, 'stylesheet_url'),
        locale: field(body, 'locale'),
      };
      const result = await attempt(() =>
        kit.act(request, async (trx) => {
          const outcome = await pageSettings.update(trx, input);
          if (!outcome.ok) throw validationError(outcome.errors);
          return outcome.settings;
        }),
      );
      if (!result.ok) return settingsPage(request, reply, sentValues(body, SETTINGS_FIELDS), result.errors, 400);
      return kit.done(reply, '/dashboard/settings', { kind: 'ok', text: 'Settings saved: the status page shows them now.' });
    });
  };
}
