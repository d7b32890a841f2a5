// An OpenPGP public key generated once for the unit tests (ed25519, created
// 2020-01-01, secret part discarded), so keyring tests can run gpg without
// generating keys or starting a gpg-agent.
export const TEST_KEY_FINGERPRINT = '706D6C880EF9432035EDCE5D03C4943616D1C932';

export const TEST_KEY_ARMORED = `-----BEGIN PGP PUBLIC KEY BLOCK-----

mDMEXgvhABYJKwYBBAHaRw8BAQdAEDL1Glr4u/gKnYiODkcNeh7bfsrt1+Z41Vhi
w2J62sq0KnJpZ2dlciB1bml0IHRlc3Qga2V5IDx1bml0QHJpZ2dlci5pbnZhbGlk
PoiQBBMWCAA4FiEEcG1siA75QyA17c5dA8SUNhbRyTIFAl4L4QACGwMFCwkIBwIG
FQoJCAsCBBYCAwECHgECF4AACgkQA8SUNhbRyTI9BgD/TKRuC67wg30Y+MzKMIER
/Z/zfnj/tQUNe9b1BZDKGVgA/RyuI7HPAwiC1ks690kY6Fd/NadTIdE2nTvjegLp
arYH
=IKpl
-----END PGP PUBLIC KEY BLOCK-----
`;

export const TEST_KEY_BINARY = Buffer.from(
  'mDMEXgvhABYJKwYBBAHaRw8BAQdAEDL1Glr4u/gKnYiODkcNeh7bfsrt1+Z41Vhiw2J62sq0KnJpZ2dlciB1bml0IHRlc3Qga2V5IDx1bml0QHJpZ2dlci5pbnZhbGlkPoiQBBMWCAA4FiEEcG1siA75QyA17c5dA8SUNhbRyTIFAl4L4QACGwMFCwkIBwIGFQoJCAsCBBYCAwECHgECF4AACgkQA8SUNhbRyTI9BgD/TKRuC67wg30Y+MzKMIER/Z/zfnj/tQUNe9b1BZDKGVgA/RyuI7HPAwiC1ks690kY6Fd/NadTIdE2nTvjegLparYH',
  'base64',
);
