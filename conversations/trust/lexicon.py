"""The words of the trust checks, in English, Spanish, French, German, Portuguese and Italian.

Every entry is written folded (lower case, no accents), as `normalize.fold` reads text. A
trailing `*` takes any ending ("cancel*" is cancel, cancels, cancelled, cancellation), so one
stem stands for a verb and its nouns. `Terms` compiles a list into one regex.

These lists stand for classes of words — agreeing, acting with a financial or contractual
effect, asking for a secret — never for a particular message.
"""

from __future__ import annotations

import re
from functools import cached_property


class Terms:
    """A word list matched on whole words of folded text."""

    def __init__(self, *groups: str) -> None:
        self.entries = tuple(entry.strip() for group in groups for entry in group.split("|") if entry.strip())

    @staticmethod
    def _pattern(entry: str) -> str:
        words = entry.split()
        parts = []
        for word in words:
            prefix = r"\w*" if word.startswith("*") and len(word) > 1 else ""
            word = word[1:] if prefix else word
            parts.append(prefix + (re.escape(word[:-1]) + r"\w*" if word.endswith("*") else re.escape(word)))
        return r"[\s\-']+".join(parts)

    @cached_property
    def regex(self) -> re.Pattern[str]:
        alternatives = sorted((self._pattern(entry) for entry in self.entries), key=len, reverse=True)
        return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)")

    def find(self, text: str) -> list[re.Match[str]]:
        return list(self.regex.finditer(text))

    def search(self, text: str) -> re.Match[str] | None:
        return self.regex.search(text)


#: Saying yes to something: binds the owner wherever it appears, unless directly negated.
AGREEMENT = Terms(
    # English
    "accept*|agree*|approv*|authori*|confirm*|consent*|proceed*|go ahead|go for it|sign me up|sign us up"
    "|count me in|count us in|put me down|put us down|put him down|put her down|put them down|i'm in|im in|we're in|sounds good"
    "|sounds great|sounds fine|sounds perfect|let's do it|lets do it|fine by me|fine with me"
    "|works for me|works for us|happy to take|happy to go|happy to sign|happy to pay|happy to proceed"
    "|happy to accept|glad to take|i'll take it|we'll take it|i'll take the|we'll take the"
    "|i want it|we want it|sure thing|opt in|opt-in|green light|you have my permission|permission granted"
    "|that's fine|that is fine|it's fine|it is fine|is fine|are fine|is great|is perfect|all good|ok with|okay with"
    "|on board|lock it in|yes please|yes, please|it's a deal|that's a deal|done deal",
    # Spanish
    "acept*|de acuerdo|estoy de acuerdo|autoriz*|confirm*|aprueb*|aprob*|adelante|proced*|me apunto"
    "|nos apuntamos|trato hecho|hecho|vale|me parece bien|perfecto, adelante|lo quiero|lo tomo|contrat*"
    "|dale|si, por favor|puede proceder|pueden proceder|queda autorizado",
    # French
    "accept*|j'accepte|d'accord|autoris*|confirm*|approuv*|allez-y|allez y|vas-y|procede*|ca marche"
    "|ok pour|je souscris|inscrivez-moi|je prends|nous prenons|marche conclu|c'est bon|valide|validez|valider"
    "|bon pour accord|accord",
    # German
    "akzeptier*|einverstanden|genehmig*|bestatig*|autorisier*|fahren sie fort|machen sie das|los geht's"
    "|in ordnung|geht klar|ich nehme|wir nehmen|abgemacht|zugestimmt|stimme zu|stimmen zu|zustimm*"
    "|freigegeben|erlaube|erlauben|stimme|stimmen",
    # Portuguese
    "aceit*|concord*|autoriz*|confirm*|aprov*|pode prosseguir|prossig*|pode seguir|fechado|combinado|topo"
    "|pode fazer|pode avancar|sim, por favor|quero sim|eu quero",
    # Italian
    "accett*|sono d'accordo|d'accordo|autorizz*|conferm*|approv*|procedete|procedi|proceda|va bene|vai avanti"
    "|andate avanti|ci sto|affare fatto|lo prendo|sottoscriv*",
)

#: Refusing the refusal: "don't mind", "no objection", "wouldn't refuse" agree.
DOUBLE_NEGATIVE = Terms(
    "mind|object*|oppose*|problem*|issue*|refus*|declin*|reject*|disagree*|hesitat*|complain*|why not|wait"
    "|forget|resist|reason*|doubt*|say no|saying no",
    "inconveniente*|problema*|objecion*|objet*|pega*|rechaz*|opong*",
    "probleme*|objection*|oppose*|refus*|souci*|inconvenient*",
    "einwand*|einwande*|problem*|bedenken|dagegen|ablehn*",
    "objecao*|problema*|oponho|recus*|impedimento*",
    "obiezion*|problem*|contrar*|rifiut*|oppong*",
)

#: Acts with a financial or contractual effect; agreeing to or requesting one commits the owner.
ACTION = Terms(
    # English
    "upgrad*|downgrad*|renew*|extend*|extension*|cancel*|terminat*|close the|close my|close it|closing*"
    "|port|ports|porting|ported|port-in|port out|transfer*|pay|pays|paid|paying|payment*|charg*|debit*"
    "|refund*|book|booking|booked|books|order|ordering|ordered|buy*|bought|purchas*|subscrib*|subscription*"
    "|enrol*|sign up|signing up|sign-up|sign the|sign it|sign me|switch*|change the plan|change my plan"
    "|change plan|plan change|activat*|deactivat*|disconnect*|top up|top-up|migrat*|install*|add the|add it"
    "|unlock*|release the|direct debit|standing order|opt me in|join|joining|schedul*|arrange the|start the|start it"
    "|move me|move us|move my|move it|move the"
    "|initiate|launch",
    # Spanish
    "mejorar*|mejora de plan|actualiz*|renov*|prorrog*|cancel*|anul*|dar de baja|darme de baja|de baja"
    "|dar de alta|darme de alta|portabilidad|portar*|porte|transfer*|pagar*|pago|pagos|pague*|pagad*|paga"
    "|pagamos|cobr*|cargar*|cargo|cargue*|debit*|domicili*|reembols*|devolu*|devolver*|devuelv*|reserv*|pedir*"
    "|pedido*|pida*|pido|comprar*|compra|compras|compramos|compro|compre|comprad*|suscrib*|suscrip*"
    "|contratar*|contrate*|cambiar*|cambie*|cambio de|firmar*|firme*|firmo|activar*|active|activen|activad*"
    "|desactiv*|recarg*|agend*|programar*|programe*|iniciar*|inicie*",
    # French
    "mettre a niveau|passer a|renouvel*|prolong*|resili*|annul*|fermer|fermez|fermeture|transfer*"
    "|portabilite|payer|paye*|payez|payons|paiement*|regler|reglez|reglement|debit*|prelev*|rembours*"
    "|reserv*|command*|achet*|achat*|souscri*|abonn*|inscri*|chang*|signer|signez|signons|signature"
    "|activer*|activez|desactiv*|recharg*|planifi*|programmer*|programmez|demarr*|lancez|lancer",
    # German
    "upgrad*|verlanger*|kundig*|storn*|aufheb*|schliess*|portier*|ubertrag*|uberweis*|zahlung*|bezahl*"
    "|zahle|zahlt|einzahl*|zahlen sie|abbuch*|belast*|lastschrift*|erstatt*|buch*|bestell*|kauf*"
    "|abonnier*|abonnement*|abo|anmeld*|wechsel*|umstell*|unterschreib*|unterzeichn*|aktivier*"
    "|deaktivier*|aufladen|*mitnahme|*wechsel|*verlangerung|*kundigung|start*|terminier*|vereinbar*",
    # Portuguese
    "atualiz*|renov*|prorrog*|cancel*|encerr*|portabilidade|portar*|transfer*|pagar*|pagamento*|pago"
    "|pague*|paga|cobr*|debit*|reembols*|estorn*|reserv*|encomend*|comprar*|compra|compras|compre*|comprei"
    "|assin*|subscrev*|mudar*|mude*|mudanca*|troc*|ativar*|ative*|ativad*|desativ*|recarreg*|contratar*"
    "|contrate*|agend*|marcar*|marque*|inici*",
    # Italian
    "aggiornare|aggiornate|aggiornatemi|aggiorna il|passare a|rinnov*|prolung*|disdi*|disdett*|annull*|cancell*|chiud*|portabilita|portare|trasfer*"
    "|pagar*|pagament*|pago|paghi*|paga|addebit*|rimbors*|prenot*|ordin*|comprar*|compra|compri|compro|fissa*"
    "|programma*|avvia*|attivate|attivatemi"
    "|acquist*|abbon*|sottoscri*|cambiar*|cambi|cambia|firmar*|firmi|firma|attivar*|attiva|attivi|disattiv*"
    "|ricaric*",
)

#: A plain yes: it commits the owner when the company asked for a decision.
AFFIRMATIVE = Terms(
    "yes|yeah|yep|yup|ok|okay|k|sure|certainly|of course|absolutely|definitely|correct|right|exactly|indeed"
    "|affirmative|please do|y|ya",
    "si|claro|por supuesto|desde luego|correcto|exacto|por favor hazlo",
    "oui|ouais|bien sur|exactement|tout a fait|absolument",
    "ja|jawohl|genau|klar|natürlich|naturlich|sicher|richtig|selbstverstandlich",
    "sim|claro|com certeza|certo|exato|isso",
    "si|certo|certamente|esatto|assolutamente|sicuro|ovviamente",
)

#: Words that make the same clause a refusal: "not", "don't", "no", in each language.
NEGATION = Terms(
    "not|no|never|don't|dont|do not|doesn't|does not|won't|will not|wouldn't|would not|can't|cannot"
    "|shouldn't|should not|isn't|is not|aren't|nor|neither|without|none|nothing|refrain|avoid|hasn't|has not"
    "|haven't|have not|hadn't|didn't|did not|wasn't|weren't|instead of|rather than|leave|unchanged"
    "|as it is|as is|as usual|the same as",
    "no|nunca|jamas|ni|tampoco|sin|ningun*|nada",
    "ne|n'|pas|jamais|aucun*|sans|ni|rien|non",
    "nicht|kein*|nie|niemals|ohne|weder|nichts",
    "nao|nunca|jamais|sem|nem|nenhum*|nada",
    "non|mai|senza|ne|nessun*|niente|nulla",
)

#: Words that make the same clause a deferral to the owner: "will review", "will decide".
DEFERRAL = Terms(
    "review|reviews|reviewing|decide|decides|deciding|decision|consider|considers|considering|think about"
    "|thinking about|look into|look at|looking at|check with|checking with|get back|pass it on|pass this on"
    "|pass that on|passed it on|passed on|let you know|come back to you|take a look|in touch|not interested"
    "|no interest|no thanks|no thank you|decline|declines|declining|turn down|himself|herself|themselves|personally"
    "|in person|directly",
    "revisar*|revisara|decidir*|decidira|decision|considerar*|pensar|pensarlo|estudiar*|consultar*|le avisare"
    "|te avisare|volver a contactar|no me interesa|no nos interesa|no, gracias|no gracias|el mismo|ella misma"
    "|personalmente",
    "examiner*|examinera|decider*|decidera|decision|reflechir|etudier|consulter*|reviendra|reviendrai"
    "|tiendra au courant|pas interesse*|non merci|reflechi*|reviendr*|lui-meme|elle-meme|personnellement",
    "prufen|prufe|pruft|entscheiden|entscheidet|uberlegen|melde mich|melden uns|meldet sich|kein interesse"
    "|nein danke|ruckmeldung|besprechen|selbst|personlich",
    "analisar*|avaliar*|decidir*|decisao|pensar|consultar*|retornar*|nao tenho interesse|nao temos interesse"
    "|nao, obrigad*|nao obrigad*|ele mesmo|ela mesma|pessoalmente",
    "valutare|valutera|esaminare|esaminera|decidere|decidera|decisione|pensarci|consultare|ricontattare"
    "|non mi interessa|non ci interessa|no grazie|no, grazie|lui stesso|lei stessa|di persona",
)

#: Words that make an act a topic rather than a request: "about the upgrade", "regarding cancellation".
TOPIC = Terms(
    "about|regarding|concerning|re|info on|information on|details of|details on|details about|question about"
    "|questions about|news about|update on|letter about|message about|thanks for the|thank you for the",
    "sobre|acerca de|respecto a|referente a|en cuanto a|gracias por el|gracias por la",
    "sur|concernant|au sujet de|a propos de|quant a|merci pour le|merci pour la|merci de l|merci du",
    "uber|bezuglich|wegen|hinsichtlich|danke fur den|danke fur die|danke fur das",
    "sobre|acerca de|a respeito de|referente a|quanto a|obrigado pelo|obrigado pela|obrigada pelo|obrigada pela",
    "su|riguardo a|riguardo|circa|in merito a|dell|della|dello|sull|sulla|sul|grazie per il|grazie per la",
)

#: Asking to be told something: an act named in such a clause is what to be told about.
INFO_REQUEST = Terms(
    "in writing|by email|by letter|explain*|clarif*|details|terms|conditions|information|info|breakdown|copy of"
    "|more about|what it includes|what is included|send me the|send us the|send the",
    "por escrito|por correo|explica*|aclar*|detalles|condiciones|informacion|desglose|copia de|envien*|mande*",
    "par ecrit|par e-mail|par courrier|expliqu*|precis*|details|conditions|informations|copie de|envoyez*",
    "schriftlich|per e-mail|per post|erklar*|erlauter*|details|bedingungen|informationen|kopie|schicken sie",
    "por escrito|por e-mail|explica*|esclarec*|detalhes|condicoes|informacoes|copia de|envie*|mande*",
    "per iscritto|per e-mail|per posta|spiega*|chiari*|dettagli|condizioni|informazioni|copia di|invia*|mandate",
)

#: Nothing but thanks, greetings and acknowledgement.
ACKNOWLEDGEMENT = Terms(
    "thanks|thank you|many thanks|cheers|noted|received|understood|got it|hello|hi|good morning|good afternoon"
    "|regards|kind regards|best|ok noted|okay noted",
    "gracias|muchas gracias|anotado|recibido|entendido|hola|buenos dias|buenas tardes|saludos|un saludo",
    "merci|merci beaucoup|note|bien recu|recu|compris|bonjour|bonsoir|cordialement|bien a vous",
    "danke|vielen dank|danke schon|notiert|erhalten|verstanden|hallo|guten tag|gruss|grusse|viele grusse",
    "obrigado|obrigada|muito obrigado|anotado|recebido|entendido|ola|bom dia|boa tarde|cumprimentos",
    "grazie|grazie mille|annotato|ricevuto|capito|ciao|buongiorno|buonasera|saluti|cordiali saluti",
)

#: Asking for communication or for nothing to change: a request that commits the owner to nothing.
COMMUNICATION = Terms(
    "send|email|e-mail|post|mail|write|contact|call|phone|ring|remove|delete|stop|wait|address|notify|remind"
    "|leave|let us know|let me know|reply|respond|message|read|check|collect|pick up|unsubscribe|opt out|opt me out"
    "|take me off|take this number off|ask for|ask|speak to|talk to",
    "envie*|envia*|escrib*|llam*|contact*|elimin*|borr*|deje de|dejen de|esper*|avis*|respond*|recog*|desuscrib*",
    "envoy*|ecri*|appel*|contact*|supprim*|retir*|arret*|attend*|previen*|prevenez|repond*|recuper*|desabonn*"
    "|desinscri*",
    "schick*|send*|schreib*|rufen sie|ruf an|anrufen|kontaktier*|losch*|entfern*|wart*|benachrichtig*|antwort*|abhol*"
    "|austragen",
    "envi*|escrev*|ligue*|ligar|contat*|remov*|apag*|pare|parem|parar|aguard*|esper*|avis*|respond*|busc*|recolh*"
    "|descadastr*",
    "invi*|mand*|scriv*|chiam*|contatt*|rimuov*|elimin*|smett*|aspett*|avvis*|rispond*|ritir*|disiscriv*|chied*",
)

#: A company proposing something: "would you like", "shall we", "reply YES".
PROPOSAL = Terms(
    "would you like|do you want|want to|shall we|should we|can we|may we|are you interested|interested in"
    "|would you be|ready to|like to|do you accept|do you agree|let us know if|reply yes|confirm|offer*|promo*|deal"
    "|try|trial|fancy|upgrade*|switch*",
    "quiere|quieres|desea|le interesa|te interesa|podemos|acepta|aceptas|le gustaria|confirme|oferta*|promocion*"
    "|probar",
    "voulez-vous|voulez vous|souhaitez|desirez|pouvons-nous|interesse|acceptez|confirmez|aimeriez|offre*|envie de"
    "|essayer|tester|tenter",
    "mochten sie|wollen sie|sollen wir|durfen wir|konnen wir|interesse|einverstanden|bestatigen sie|angebot*"
    "|testen|ausprobieren|lust auf",
    "quer|deseja|gostaria|podemos|tem interesse|aceita|confirme|confirma|oferta*|promocao|experimentar|testar",
    "vuole|desidera|possiamo|le interessa|interessato|interessata|accetta|conferma|vorrebbe|offert*|promozion*"
    "|provare",
)

#: Asking for an act: "please", "can you", "I want". A topic with one of these is a request.
REQUEST_MARKER = Terms(
    "please|pls|plz|can you|could you|would you|will you|i want|we want|i'd like|we'd like|i would like"
    "|we would like|let's|lets|go|you can|you may|feel free|kindly|i need|we need",
    "por favor|puede|pueden|podria|podrian|quiero|queremos|quisiera|me gustaria|necesito",
    "s'il vous plait|svp|pouvez-vous|pourriez-vous|je veux|je voudrais|nous voulons|j'aimerais",
    "bitte|konnen sie|konnten sie|ich mochte|ich will|wir mochten|wir wollen",
    "por favor|pode|podem|poderia|quero|queremos|gostaria",
    "per favore|per piacere|puo|potete|potrebbe|voglio|vogliamo|vorrei|vorremmo",
)

#: Question words: a clause that asks when, why or how only asks.
INFO_QUESTION = Terms(
    "when|what|why|how|where|which|who|whose|is there|is it|are there|does|did|has|have you|was",
    "cuando|que|por que|como|donde|cual|cuales|quien|hay",
    "quand|que|quoi|pourquoi|comment|ou|quel|quelle|quels|quelles|qui|est-ce",
    "wann|was|warum|wieso|weshalb|wie|wo|welche*|wer|gibt es",
    "quando|que|o que|por que|porque|como|onde|qual|quais|quem|ha",
    "quando|cosa|che cosa|perche|come|dove|quale|quali|chi|c'e",
)

#: Clause boundaries besides punctuation: a "but" or an "and" starts a new decision.
CONJUNCTION = Terms(
    "but|and|so|then|however|instead|though|although|yet|also|plus",
    "pero|y|asi que|entonces|sin embargo|en cambio|aunque|tambien",
    "mais|et|donc|alors|cependant|pourtant|plutot|aussi",
    "aber|und|also|dann|jedoch|sondern|stattdessen|trotzdem|auch",
    "mas|entao|porem|contudo|no entanto|em vez|tambem",
    "ma|ed|quindi|allora|pero|invece|tuttavia|anche",
)

#: Secrets a company may ask for, or a reply may give away.
SECRET = Terms(
    "code*|c0de*|otp|pin|pins|pin number|passcode*|password*|passwd|pwd|pw|passphrase|pass phrase|pass code"
    "|verification|verify|one-time|one time|security answer|security question|secret answer|secret question"
    "|memorable word|memorable information|maiden name|token|2fa|two-factor|tan-nummer|cvv|cvc|security number|kode"
    "|digits|numbers you|number you|numbers we|number we|numbers that|number that|the sms|the text message|login|log-in"
    "|numbers from|number from|digits from|numbers in the|digits in the|code from"
    "|credentials|username",
    "codigo*|clave*|contrasena*|pin|verificacion|verificar|respuesta secreta|pregunta secreta|apellido de soltera"
    "|pregunta de seguridad|respuesta de seguridad"
    "|digitos|numeros que|numero que|el sms|el mensaje de texto|credenciales",
    "code*|mot de passe|mdp|verification|verifier|reponse secrete|question secrete|nom de jeune fille|chiffres"
    "|question de securite|reponse de securite"
    "|numeros que|numero que|le sms|identifiants",
    "code*|passwort*|kennwort*|geheimzahl|pin|bestatigungscode|verifizierung*|sicherheitsfrage*"
    "|geheimantwort|madchenname|ziffern|zahlen die|nummer die|die sms|zugangsdaten",
    "codigo*|senha*|pin|verificacao|verificar|resposta secreta|pergunta secreta|nome de solteira|digitos"
    "|pergunta de seguranca|resposta de seguranca|palavra-passe"
    "|numeros que|numero que|o sms|a mensagem|credenciais",
    "codice*|password|parola d'ordine|parola chiave|pin|verifica|risposta segreta|domanda segreta"
    "|domanda di sicurezza|risposta di sicurezza"
    "|cognome da nubile|cifre|numeri che|numero che|l'sms|il messaggio|credenziali",
)

#: Asking for something: with a SECRET in the same sentence, a code request.
REQUEST = Terms(
    "send|sending|send us|send me|give|giving|tell|share|sharing|provide|providing|confirm|confirme|confirmen|confirma|confirmar|confirmez|confirmer|read|reading|read out"
    "|forward|reply with|respond with|reply|replying|respond|repeat|type|type in|enter|enter it|say|spell"
    "|text us|text me|dictate|what is|what's|what are|whats|which|need|needs|require|requires|verify|validate"
    "|submit|input|let us know|let me know|can you|could you|paste|quote",
    "envia*|enviar*|envie*|manda*|mandar*|mande*|dame|danos|dime|dinos|decir*|comparte*|compartir*|proporcion*"
    "|confirm|confirme|confirmen|confirma|confirmar|confirmez|confirmer|lee|leer|leame|reenvi*|respond*|repit*|repetir|escrib*|dicta*|cual es|cuales son|necesit*"
    "|indica*|indique*|facilit*|verifique|verifiquen|verificar|verifica",
    "envoy*|donne*|donnez|dites|dis-moi|dire|partag*|fourni*|confirm|confirme|confirmen|confirma|confirmar|confirmez|confirmer|lisez|lire|transferez|repond*|repet*"
    "|tapez|taper|saisi*|dicte*|quel est|quels sont|besoin|indiquez|communiquez|communiquer|transmett*"
    "|verifiez|verifier|copiez",
    "senden sie|schicken sie|schick|geben sie|gib|gebt|sagen sie|sag|teilen sie|nennen sie|nenn|bestatigen sie|bestatige"
    "|lesen sie|vorlesen|lies|weiterleit*|antwort*|wiederhol*|eingeb*|tippen|diktier*|mitteil*|wie lautet"
    "|was ist|brauch*|benotig*|ubermittel*|verifizier*",
    "envie*|enviar*|mande*|mandar*|diga*|dizer|informe*|informar|compartilh*|forneca*|fornecer|confirm*"
    "|leia|ler|encaminh*|respond*|repit*|digite|digitar|ditar|qual e|quais sao|precis*|verifique|verifiquen|verificar|verifica",
    "invia*|inviare|mandi|manda|dammi|dacci|dica|dimmi|dicci|dire|condivid*|fornisc*|fornire|conferm*"
    "|leggi|legga|leggere|inoltr*|rispond*|ripet*|digita|digiti|inserisc*|dettare|detta|qual e|quali sono"
    "|bisogno|comunica|comunichi|verifique|verifiquen|verificar|verifica|serve|servono|invii|inviate|giri|girate"
    "|girare",
)

#: A secret given as a value: "password: x", "my pin is x".
CREDENTIAL = Terms(
    "password*|passwd|pwd|pw|passcode*|pass code|passphrase|pass phrase|pass|pin|pin code|pin number"
    "|security answer|secret answer|security question|secret question|memorable word|memorable info*"
    "|maiden name|login|username|user name|user|creds|credentials|cvv|cvc|secret word|code word|secret"
    # What security questions ask: the answer is a secret whatever the wording around it.
    "|first pet|first pet's name|name of my first pet|first school|first car|favourite teacher|favorite teacher"
    "|city of birth|place of birth|birthplace|mother's maiden|first-pet question|pet question",
    "primera mascota|primer mascota|primer colegio|primera escuela|primer coche|ciudad de nacimiento|lugar de nacimiento",
    "premier animal|premiere ecole|premiere voiture|ville de naissance|lieu de naissance",
    "erstes haustier|ersten haustiers|erste schule|erstes auto|geburtsort|geburtsstadt",
    "primeiro animal|primeira escola|primeiro carro|cidade natal|local de nascimento",
    "primo animale|prima scuola|prima auto|citta natale|luogo di nascita",
    "contrasena*|clave|clave secreta|respuesta secreta|pregunta secreta|pregunta de seguridad"
    "|respuesta de seguridad|apellido de soltera|usuario|credenciales|palabra secreta",
    "mot de passe|mdp|code secret|code confidentiel|reponse secrete|question secrete|question de securite"
    "|reponse de securite|nom de jeune fille|identifiant*|mot secret",
    "passwort*|kennwort*|geheimzahl|geheimantwort|sicherheitsfrage|madchenname|benutzername|zugangsdaten"
    "|sicherheitsantwort|geheimwort",
    "senha*|palavra-passe|palavra passe|resposta secreta|pergunta secreta|pergunta de seguranca"
    "|resposta de seguranca|nome de solteira|usuario|credenciais|palavra secreta",
    "password|parola d'ordine|parola chiave|risposta segreta|domanda segreta|domanda di sicurezza"
    "|risposta di sicurezza|cognome da nubile|nome utente|credenziali|parola segreta",
)

#: How people dictate a secret: "all lower case", "case sensitive", "with a capital P".
LETTER_CASE = Terms(
    "lower case|lowercase|upper case|uppercase|case sensitive|case-sensitive|capital letter*|with a capital"
    "|all caps|all small",
    "minusculas|mayusculas|en minuscula*|en mayuscula*|minuscules|majuscules|en minuscule*|en majuscule*"
    "|kleinbuchstaben|grossbuchstaben|kleingeschrieben|grossgeschrieben|minusculo*|maiusculo*|minuscolo"
    "|maiuscolo|minuscole|maiuscole",
)

#: Money: currency words and codes (symbols are Unicode's category Sc).
CURRENCY = Terms(
    "dollar*|buck*|euro*|pound*|quid|sterling|pence|penny|cent|cents|yen|yuan|rupee*|franc*|peso*|real|reais"
    "|reai*|krona|krone*|kronor|zloty*|rand|lira|lire|centavo*|centimo*|centime*|rappen",
    "dolar*|libra*|pesos|reales|livre*|sterling|pfund|franken|centesim*|yenes|rupia*",
    # Slang for money: "a grand", "trente balles", "cien pavos", "zwanzig Mäuse".
    "grand|grands|k|balles|pavos|pelas|mause|kroten|paus|contos|mangos|fiver|tenner",
    "usd|eur|gbp|brl|mxn|ars|clp|cop|chf|jpy|cny|inr|cad|aud|nzd|sek|nok|dkk|pln|zar|try|us\\$|r\\$|eu",
)

PERCENT = Terms(
    "percent|per cent|pct|por ciento|porciento|pour cent|pourcent|prozent|por cento|porcento|per cento"
    "|percento|percentuale|por 100|pour 100|per 100|pro 100",  # text2num reads "ciento", "cent" as 100
)

#: Ways to say "at" and "dot" in a spelled-out email address.
EMAIL_SPELLING = Terms(
    "at|dot|arroba|punto|arobase|point|punkt|ponto|chiocciola|klammeraffe|underscore|guion|tiret|trait"
)

#: A turn in the same breath: "no, but ...". After a refusal, what follows still counts.
CONTRAST = Terms(
    "but|however|instead|though|pero|sin embargo|mais|cependant|aber|jedoch|sondern|mas|porem|ma|tuttavia|invece"
)

#: "Please", which turns naming a secret into asking for it.
PLEASE = Terms("please|pls|por favor|s'il vous plait|svp|bitte|per favore|per piacere")

#: Words after "password is" that give no value: "the password is not something I share".
VALUE_NOT_GIVEN = Terms(
    "not|never|private|secret|confidential|something|anything|nothing|only|personal|sensitive|no|none",
    "no|nunca|privad*|secret*|confidencial|algo|nada|nao|non|pas|jamais|nicht|nie|kein*|mai|niente|prive*",
)

#: What the checks read in place of a shared fact's placeholder (the vault fills it in afterwards).
PLACEHOLDER_WORD = "fact"
