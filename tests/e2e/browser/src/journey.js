// The Xanadu frontend's identity and API calls, in its own libraries: Amplify v5 Auth (default SRP sign-in,
// currentSession for the ID token, signOut) and axios with `Authorization: Bearer <ID token>`.
// Configuration comes in the query string; the outcome is left in window.journey for the driver.
import { Auth } from 'aws-amplify';
import axios from 'axios';

const params = new URLSearchParams(window.location.search);
const settings = JSON.parse(params.get('settings'));
const show = (id, text) => { document.getElementById(id).textContent = text; };
const formatAddress = (a) => [a.street, a.city, a.state, a.zipCode].join(', ');

async function journey() {
  const result = { steps: [] };
  Auth.configure({
    region: settings.region,
    userPoolId: settings.userPoolId,
    userPoolWebClientId: settings.clientId,
    endpoint: settings.cognitoEndpoint,
  });

  const user = await Auth.signIn(settings.email, settings.password);
  result.steps.push('signIn');
  result.challengeName = user.challengeName || null;
  const session = await Auth.currentSession();
  const idToken = session.getIdToken();
  result.idTokenEmail = idToken.payload.email;
  result.idTokenEmailVerified = idToken.payload.email_verified;
  const api = axios.create({
    baseURL: settings.apiUrl,
    headers: { Authorization: `Bearer ${idToken.getJwtToken()}` },
  });

  const customer = (await api.get('/customer')).data;
  result.customer = customer;
  show('email', customer.email);
  show('name', `${customer.firstName} ${customer.lastName}`);
  const points = (await api.get('/prod/points')).data;
  result.points = points.points;
  show('points', String(points.points));
  result.steps.push('read');

  if (settings.profileChange) {
    const put = await api.put('/customer', settings.profileChange);
    result.putStatus = put.status;
    result.putBody = put.data;
    const after = (await api.get('/customer')).data;
    result.customerAfter = after;
    show('name-after', `${after.firstName} ${after.lastName}`);
    show('phone-after', after.phone);
    show('address-after', formatAddress(after.address));
    result.steps.push('update');
  }

  const started = performance.now();
  await Auth.signOut();
  result.signOutMs = performance.now() - started;
  result.steps.push('signOut');
  try {
    await Auth.currentSession();
    result.sessionAfterSignOut = true;
  } catch (noSession) {
    result.sessionAfterSignOut = false;
  }
  return result;
}

journey().then(
  (result) => { window.journey = { ok: true, ...result }; show('status', 'done'); },
  (error) => {
    window.journey = { ok: false, error: `${error && (error.name || error.code)}: ${error && error.message}` };
    show('status', `failed: ${window.journey.error}`);
  },
);
