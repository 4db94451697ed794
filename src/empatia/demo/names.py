"""Names, places and e-mail domains per market for the demo world's people.

Russian and Persian names are written in their own script; :func:`latin` gives the Latin
spelling used in e-mail addresses.
"""

from __future__ import annotations

import unicodedata

# market -> (language, currency, country calling code, weight in the customer base)
MARKETS: dict[str, tuple[str, str, str, float]] = {
    "PL": ("pl", "PLN", "48", 0.24),
    "DE": ("de", "EUR", "49", 0.15),
    "GB": ("en", "GBP", "44", 0.10),
    "US": ("en", "USD", "1", 0.07),
    "ES": ("es", "EUR", "34", 0.11),
    "MX": ("es", "USD", "52", 0.03),
    "RU": ("ru", "EUR", "7", 0.09),
    "KZ": ("ru", "EUR", "7", 0.03),
    "IR": ("fa", "EUR", "98", 0.07),
    "FR": ("fr", "EUR", "33", 0.05),
    "AT": ("de", "EUR", "43", 0.02),
    "IE": ("en", "EUR", "353", 0.01),
    "BY": ("ru", "EUR", "375", 0.03),
}

# language -> (male first names, female first names, surnames as (male, female))
NAMES: dict[str, tuple[list[str], list[str], list[tuple[str, str]]]] = {
    "pl": (
        ["Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Michał", "Marcin", "Jakub", "Adam", "Łukasz",
         "Grzegorz", "Mateusz", "Wojciech", "Kamil", "Bartosz", "Szymon"],
        ["Anna", "Katarzyna", "Małgorzata", "Agnieszka", "Barbara", "Ewa", "Magdalena", "Joanna", "Zofia",
         "Aleksandra", "Monika", "Natalia", "Karolina", "Julia", "Marta", "Dorota"],
        [("Nowak", "Nowak"), ("Kowalski", "Kowalska"), ("Wiśniewski", "Wiśniewska"), ("Wójcik", "Wójcik"),
         ("Kowalczyk", "Kowalczyk"), ("Kamiński", "Kamińska"), ("Lewandowski", "Lewandowska"),
         ("Zieliński", "Zielińska"), ("Szymański", "Szymańska"), ("Woźniak", "Woźniak"),
         ("Dąbrowski", "Dąbrowska"), ("Kozłowski", "Kozłowska"), ("Jankowski", "Jankowska"),
         ("Mazur", "Mazur"), ("Krawczyk", "Krawczyk"), ("Piotrowski", "Piotrowska"), ("Grabowski", "Grabowska")],
    ),
    "ru": (
        ["Александр", "Дмитрий", "Максим", "Сергей", "Андрей", "Алексей", "Иван", "Михаил", "Никита",
         "Евгений", "Артём", "Владимир", "Павел", "Олег"],
        ["Анна", "Мария", "Елена", "Ольга", "Наталья", "Татьяна", "Ирина", "Екатерина", "Светлана",
         "Юлия", "Дарья", "Анастасия", "Ксения", "Виктория"],
        [("Иванов", "Иванова"), ("Смирнов", "Смирнова"), ("Кузнецов", "Кузнецова"), ("Попов", "Попова"),
         ("Васильев", "Васильева"), ("Петров", "Петрова"), ("Соколов", "Соколова"), ("Михайлов", "Михайлова"),
         ("Новиков", "Новикова"), ("Фёдоров", "Фёдорова"), ("Морозов", "Морозова"), ("Волков", "Волкова"),
         ("Лебедев", "Лебедева"), ("Козлов", "Козлова")],
    ),
    "fa": (
        ["محمد", "علی", "حسین", "رضا", "مهدی", "امیر", "سعید", "حمید", "بهرام", "کوروش", "آرش", "داریوش"],
        ["فاطمه", "زهرا", "مریم", "سارا", "نرگس", "لیلا", "شیرین", "پریسا", "نیلوفر", "مهسا", "آزاده", "یاسمن"],
        [(s, s) for s in ["احمدی", "محمدی", "حسینی", "رضایی", "کریمی", "موسوی", "جعفری", "رحیمی",
                          "صادقی", "کاظمی", "تهرانی", "شریفی", "نوری", "اکبری"]],
    ),
    "de": (
        ["Thomas", "Michael", "Andreas", "Stefan", "Lukas", "Jonas", "Felix", "Matthias", "Jan", "Tobias",
         "Florian", "Sebastian", "Uwe", "Jürgen"],
        ["Sabine", "Julia", "Anna", "Laura", "Katrin", "Claudia", "Lena", "Sarah", "Monika", "Petra",
         "Lea", "Hannah", "Jana", "Birgit"],
        [(s, s) for s in ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker",
                          "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf"]],
    ),
    "es": (
        ["Antonio", "José", "Manuel", "Francisco", "David", "Javier", "Daniel", "Carlos", "Miguel", "Alejandro",
         "Pablo", "Sergio", "Jorge", "Alberto"],
        ["María", "Carmen", "Ana", "Isabel", "Laura", "Lucía", "Marta", "Cristina", "Elena", "Paula",
         "Sara", "Sofía", "Pilar", "Raquel"],
        [(s, s) for s in ["García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez",
                          "Pérez", "Gómez", "Martín", "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno"]],
    ),
    "en": (
        ["James", "John", "Robert", "Michael", "David", "William", "Richard", "Thomas", "Daniel", "Matthew",
         "Oliver", "Harry", "George", "Jack"],
        ["Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Sarah", "Emma", "Olivia", "Sophie", "Emily",
         "Jessica", "Charlotte", "Amelia", "Grace"],
        [(s, s) for s in ["Smith", "Johnson", "Williams", "Brown", "Jones", "Taylor", "Wilson", "Davies",
                          "Evans", "Thomas", "Roberts", "Walker", "Wright", "Robinson", "Miller", "Clarke"]],
    ),
    "fr": (
        ["Jean", "Pierre", "Nicolas", "Julien", "Thomas", "Antoine", "Louis", "Hugo", "François", "Mathieu"],
        ["Marie", "Camille", "Léa", "Chloé", "Manon", "Julie", "Sophie", "Claire", "Élodie", "Amélie"],
        [(s, s) for s in ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
                          "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel"]],
    ),
}

# market -> (cities, streets, postal code pattern: digits per part)
PLACES: dict[str, tuple[list[str], list[str]]] = {
    "PL": (["Warszawa", "Kraków", "Łódź", "Wrocław", "Poznań", "Gdańsk", "Lublin", "Katowice"],
           ["ul. Marszałkowska", "ul. Długa", "ul. Polna", "ul. Leśna", "ul. Słoneczna", "ul. Mickiewicza"]),
    "DE": (["Berlin", "Hamburg", "München", "Köln", "Frankfurt am Main", "Leipzig", "Dresden"],
           ["Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße"]),
    "AT": (["Wien", "Graz", "Linz", "Salzburg"], ["Hauptplatz", "Ringstraße", "Kirchengasse"]),
    "GB": (["London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol"],
           ["High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue"]),
    "IE": (["Dublin", "Cork", "Galway"], ["Main Street", "Church Street", "O'Connell Street"]),
    "US": (["New York", "Chicago", "Austin", "Seattle", "Boston", "Denver"],
           ["Main St", "Oak Ave", "Maple St", "Washington Blvd", "2nd Ave"]),
    "ES": (["Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Málaga"],
           ["Calle Mayor", "Calle Real", "Avenida de la Constitución", "Calle del Sol"]),
    "MX": (["Ciudad de México", "Guadalajara", "Monterrey"], ["Avenida Juárez", "Calle Morelos", "Paseo de la Reforma"]),
    "RU": (["Москва", "Санкт-Петербург", "Новосибирск", "Екатеринбург", "Казань"],
           ["ул. Ленина", "ул. Гагарина", "Невский пр.", "ул. Мира", "ул. Садовая"]),
    "KZ": (["Алматы", "Астана", "Караганда"], ["пр. Абая", "ул. Пушкина", "ул. Достык"]),
    "BY": (["Минск", "Гомель", "Брест"], ["пр. Независимости", "ул. Советская", "ул. Ленина"]),
    "IR": (["تهران", "اصفهان", "شیراز", "مشهد", "تبریز"],
           ["خیابان ولیعصر", "خیابان انقلاب", "خیابان آزادی", "بلوار کشاورز"]),
    "FR": (["Paris", "Lyon", "Marseille", "Toulouse", "Bordeaux", "Lille"],
           ["rue de la République", "rue Victor Hugo", "avenue Jean Jaurès", "rue de Paris"]),
}

EMAIL_DOMAINS: dict[str, list[str]] = {
    "PL": ["gmail.com", "wp.pl", "onet.pl", "o2.pl", "interia.pl"],
    "DE": ["gmail.com", "gmx.de", "web.de", "t-online.de"],
    "AT": ["gmx.at", "gmail.com"],
    "GB": ["gmail.com", "hotmail.co.uk", "outlook.com", "yahoo.co.uk"],
    "IE": ["gmail.com", "eircom.net"],
    "US": ["gmail.com", "yahoo.com", "outlook.com", "icloud.com"],
    "ES": ["gmail.com", "hotmail.es", "yahoo.es", "telefonica.net"],
    "MX": ["gmail.com", "hotmail.com", "prodigy.net.mx"],
    "RU": ["yandex.ru", "mail.ru", "gmail.com", "rambler.ru"],
    "KZ": ["mail.ru", "gmail.com", "yandex.kz"],
    "BY": ["tut.by", "mail.ru", "gmail.com"],
    "IR": ["gmail.com", "yahoo.com", "chmail.ir"],
    "FR": ["gmail.com", "orange.fr", "free.fr", "laposte.net"],
}

_RU = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
               "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch _ y _ e yu ya".split()))
_FA = {
    "محمد": "mohammad", "علی": "ali", "حسین": "hossein", "رضا": "reza", "مهدی": "mehdi", "امیر": "amir",
    "سعید": "saeed", "حمید": "hamid", "بهرام": "bahram", "کوروش": "kourosh", "آرش": "arash", "داریوش": "dariush",
    "فاطمه": "fatemeh", "زهرا": "zahra", "مریم": "maryam", "سارا": "sara", "نرگس": "narges", "لیلا": "leila",
    "شیرین": "shirin", "پریسا": "parisa", "نیلوفر": "niloufar", "مهسا": "mahsa", "آزاده": "azadeh",
    "یاسمن": "yasaman", "احمدی": "ahmadi", "محمدی": "mohammadi", "حسینی": "hosseini", "رضایی": "rezaei",
    "کریمی": "karimi", "موسوی": "mousavi", "جعفری": "jafari", "رحیمی": "rahimi", "صادقی": "sadeghi",
    "کاظمی": "kazemi", "تهرانی": "tehrani", "شریفی": "sharifi", "نوری": "nouri", "اکبری": "akbari",
}


def latin(name: str) -> str:
    """The lower-case ASCII spelling of a name, as people write it in an e-mail address."""
    if name in _FA:
        return _FA[name]
    low = name.lower()
    if any("а" <= c <= "я" or c == "ё" for c in low):
        return "".join(_RU.get(c, c) for c in low).replace("_", "")
    low = low.replace("ł", "l").replace("ß", "ss")
    return unicodedata.normalize("NFKD", low).encode("ascii", "ignore").decode()
