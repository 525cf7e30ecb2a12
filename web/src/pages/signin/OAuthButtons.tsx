import { auth } from '../../api';
import { useLoad } from '../../lib/useLoad';

/** "Continue with …" links for every social provider the server offers. */
export function OAuthButtons() {
  const { data } = useLoad(auth.oauthProviders, []);
  const providers = data?.items ?? [];
  if (providers.length === 0) return null;
  return (
    <div className="oauth">
      <p className="divider">
        <span>or</span>
      </p>
      <ul className="oauth-list">
        {providers.map((provider) => (
          <li key={provider.name}>
            <a className="btn btn--secondary btn--block" href={auth.oauthStartUrl(provider.name)}>
              Continue with {provider.display_name}
            </a>
          </li>
        ))}
      </ul>
    </div>
  );
}
