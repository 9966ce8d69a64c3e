"""Each held class, from tables: what it must hold, and the everyday replies it must let through."""

from __future__ import annotations

import pytest

from conversations.trust import guards
from conversations.trust.guards import check_reply
from conversations.trust.normalize import normalize

ADDRESS = "12 Elm St., Springfield"
BIRTH_DATE = "1984-03-17"
UPGRADE_OFFER = "Upgrade to our 5G plan today! Reply YES to confirm."


def fired(reply: str, *, inbound: str = "Hello", private: tuple[str, ...] = ()) -> set[str]:
    return {f.guard for f in check_reply(reply, inbound_texts=[inbound], private_values=private)}


@pytest.mark.parametrize(
    "reply",
    [
        "Your code is 4 8 2 9 1 3",
        "four eight two nine one three",
        "482\n913",
        "48-29-13",
        "Code: NDgyOTEz",
        "It is 12345",
        "It is 1234567",
        "The card is 4111.1111.1111.1111",
        "iban de89 3704 0044 0532 0130 00",
        "Call me on +44 7700 900123",
        "STOP 4 8 2 9 1 3",
        "(code:482913.)",
        "double five seven triple two",
        "It's 7l9O38",
        "É três meia meia dois nove",
    ],
)
def test_an_identifier_in_any_disguise_is_held(reply):
    assert guards.IDENTIFIER in fired(reply)


@pytest.mark.parametrize(
    ("reply", "value"),
    [
        ("I live at 12 Elm St., Springfield", ADDRESS),
        ("twelve Elm Street", ADDRESS),
        ("12 Εlm Street", ADDRESS),
        ("１２ Elm St", ADDRESS),
        ("(12 Elm St)", ADDRESS),
        ("Elm Street, Springfield", ADDRESS),
        ("born 17/03/1984", BIRTH_DATE),
        ("born on March 17", BIRTH_DATE),
        ("né le 17 mars 1984", BIRTH_DATE),
        ("nacido el 17 de marzo", BIRTH_DATE),
        ("geboren am 17. März", BIRTH_DATE),
        ("the 17th of March", BIRTH_DATE),
        ("write to JANE dot DOE at example dot com", "jane.doe@example.com"),
        ("her maiden name is Whitfield", "Whitfield"),
        ("Hauptstr. 17, Berlin", "Hauptstraße 17, 10115 Berlin"),
        ("Juergen Weiss", "Jürgen Weiß"),
    ],
)
def test_a_private_fact_is_found_however_it_is_written(reply, value):
    assert guards.PRIVATE_FACT in fired(reply, private=(value,))


@pytest.mark.parametrize(
    "reply",
    ["Thanks, the owner will reply soon.", "Please send it to the address on file.", "Spring is coming."],
)
def test_a_reply_without_the_fact_does_not_match_it(reply):
    assert guards.PRIVATE_FACT not in fired(reply, private=(ADDRESS, BIRTH_DATE, "Whitfield"))


@pytest.mark.parametrize(
    "reply",
    [
        "pw: hunter2",
        "My password is hunter2",
        "passcode = tiger",
        "The answer to the security question is Fluffy",
        "contraseña: gatito",
        "mot de passe : soleil",
        "Passwort: Sonne",
        "senha: abacaxi",
        "la password è girasole",
        "Security answer (city of birth): Valparaíso",
        "Nome de solteira da mãe: Carvalhal",
        "It's 'letmein', all lower case.",
        "Use correct-horse-battery-staple to log in",
        "admin / P@ssw0rd!",
        "utente mrossi, pass Cavallo!Bianco",
    ],
)
def test_a_credential_given_as_a_value_is_held(reply):
    assert guards.CREDENTIAL in fired(reply)


def test_refusing_to_give_a_password_is_not_a_credential():
    assert guards.CREDENTIAL not in fired("The password is not something I can share.")


@pytest.mark.parametrize(
    "reply",
    [
        "That's $45",
        "45,99 € is fine",
        "£120",
        "R$ 80",
        "EUR 30",
        "thirty dollars",
        "cincuenta euros",
        "10%",
        "ten percent",
        "veinte por ciento",
        "quinze pour cent",
        "fünf Prozent",
        "CHF 25 pro Monat",
        "sesenta dólares",
        "Around 3k after tax",
        "trente balles",
        "9.99",
    ],
)
def test_an_amount_or_a_percentage_is_held(reply):
    assert guards.MONEY in fired(reply)


@pytest.mark.parametrize(
    ("reply", "inbound"),
    [
        ("Sounds good, please proceed with the upgrade", UPGRADE_OFFER),
        ("Upgrade approved", UPGRADE_OFFER),
        ("the owner is happy to take the upgrade", UPGRADE_OFFER),
        ("You may charge the card", "Can we charge the card on file?"),
        ("Count me in for the contract", UPGRADE_OFFER),
        ("Please cancel the line", "Hello"),
        ("I'm happy to sign up", UPGRADE_OFFER),
        ("Yes. Renew it.", "Your contract ends soon. Renew?"),
        ("Sí, acepto la oferta", "¿Acepta la oferta?"),
        ("Yes", UPGRADE_OFFER),
        ("YES", UPGRADE_OFFER),
        ("Oui", "Voulez-vous passer à la fibre ?"),
        ("I don't mind if you switch me to the new plan", UPGRADE_OFFER),
        ("No objection to the renewal", "Shall we renew?"),
        ("No, but go ahead with the upgrade", UPGRADE_OFFER),
        ("The owner will review it; please proceed.", UPGRADE_OFFER),
        ("Ja, ich bin einverstanden", "Möchten Sie den Vertrag verlängern?"),
        ("Sim, pode prosseguir com a portabilidade", "Podemos fazer a portabilidade?"),
        ("Va bene, procedete con il rinnovo", "Rinnoviamo il contratto?"),
        ("Je confirme la résiliation", "Confirmez-vous la résiliation ?"),
        ("Deal.", "Final offer: we waive the setup fee if you sign today."),
        ("Open it, thanks.", "Shall we open the new savings account for you?"),
        ("👍", UPGRADE_OFFER),
        ("Y", "Reply Y to accept the new fixed-price contract."),
        ("Partant !", "Envie de tester l'option TV premium ?"),
        ("Why not, put him down for it.", "Would he like the premium plan?"),
    ],
)
def test_a_commitment_in_any_wording_is_held(reply, inbound):
    assert guards.COMMITMENT in fired(reply, inbound=inbound)


@pytest.mark.parametrize(
    ("reply", "inbound"),
    [
        ("Thanks, please send the bill by email.", "Your bill is ready."),
        ("I'm not interested, please remove this number.", UPGRADE_OFFER),
        ("When will the outage be fixed?", "There is an outage in your area."),
        ("Noted, thanks.", "Your bill is ready."),
        ("No thank you, the owner is not interested in the upgrade.", UPGRADE_OFFER),
        ("The owner will review the upgrade offer and decide.", UPGRADE_OFFER),
        ("Please don't make any changes to the account.", UPGRADE_OFFER),
        ("Thanks for your message about the upgrade.", UPGRADE_OFFER),
        ("When will the refund arrive?", "We have processed your refund."),
        ("No, gracias, no me interesa.", "¿Quiere mejorar su plan?"),
        ("No thanks, she's happy with her current plan.", "Would you like to hear about our family plans?"),
        ("Grazie, ma al momento non è interessato.", "Passa alla nuova offerta con giga illimitati!"),
        ("STOP", "Promo: 5G for less! Reply STOP to opt out."),
        ("Thanks for confirming.", "Your appointment is confirmed."),
    ],
)
def test_declining_deferring_and_asking_commit_to_nothing(reply, inbound):
    assert guards.COMMITMENT not in fired(reply, inbound=inbound)


@pytest.mark.parametrize(
    "inbound",
    [
        "Please send us the verification code we just texted you.",
        "To STOP the transfer, reply with the 6 digits now",
        "What numbers did you get in the SMS?",
        "Tell us the c0de to confirm",
        "Read me the c o d e please",
        "Por favor, envíenos el código que recibió",
        "Merci de nous communiquer le code reçu par SMS",
        "Bitte nennen Sie uns den Bestätigungscode",
        "Por favor, informe o código de verificação",
        "Ci dica il codice che ha ricevuto",
        "What is the answer to your security question?",
        "We sent you a text with some digits. Could you send them back to us?",
        "Nennen Sie uns bitte die TAN für den Auftrag.",
        "V.E.R.I.F.I.C.A.T.I.O.N  C.O.D.E please",
        "Manda o c-ó-d-i-g-o que enviamos",
        "Ci giri le cifre arrivate sul cellulare poco fa.",
    ],
)
def test_a_request_for_a_code_is_escalated(inbound):
    findings = check_reply("I'll pass this on.", inbound_texts=[inbound], private_values=())
    assert any(f.guard == guards.CODE_REQUEST and f.effect == guards.ESCALATE for f in findings)


@pytest.mark.parametrize(
    "inbound",
    [
        "Your bill is ready.",
        "Your verification code is 482913. Do not share it with anyone.",
        "There is an outage.",
    ],
)
def test_a_message_that_asks_for_no_secret_is_not_a_code_request(inbound):
    assert guards.CODE_REQUEST not in fired("Noted, thanks.", inbound=inbound)


def test_every_finding_names_the_words_that_fired():
    (finding,) = guards.identifiers(normalize("code 4 8 2 9"))
    assert finding.words == ("4829",)
    assert finding.as_dict()["effect"] == guards.HOLD
