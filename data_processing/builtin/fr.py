"""French prompts of the built-in set (original text written for multispec)."""
from __future__ import annotations

SUMMARY_TEMPLATE = "Résume en une phrase : {text}\nRésumé :"
QA_TEMPLATE = "Question : {question}\nRéponse :"

CHAT: list[str] = [
    "Comment puis-je organiser un petit potager sur mon balcon ?",
    "Quels conseils donnerais-tu à quelqu'un qui commence à travailler de chez lui ?",
    "Explique-moi simplement pourquoi le ciel est bleu.",
    "Propose un menu de dîner simple pour quatre personnes, dont une végétarienne.",
    "Écris un court message pour remercier un collègue qui m'a aidé sur un projet difficile.",
    "Comment préparer un voyage en train à travers l'Europe avec un petit budget ?",
    "Quelles questions poser avant d'adopter un chat ?",
    "Donne-moi trois idées d'activités pour un après-midi pluvieux avec des enfants.",
    "Comment expliquer à un ami ce qu'est un mot de passe sûr ?",
    "Décris en quatre phrases un marché du dimanche matin dans un village.",
]

SUMMARIZATION: list[str] = [
    "La mairie a décidé de transformer l'ancienne gare de marchandises en maison des associations. Les travaux "
    "commenceront au printemps et dureront environ dix-huit mois. Le bâtiment accueillera une salle de concert, "
    "des ateliers et un café. Les habitants pourront donner leur avis lors d'une réunion publique en mars.",
    "Une équipe de chercheurs a observé que les abeilles d'une même ruche ne butinent pas toutes les mêmes fleurs. "
    "Certaines préfèrent le trèfle, d'autres les arbres fruitiers. Cette répartition permettrait à la colonie de "
    "mieux résister quand une espèce de fleur vient à manquer.",
    "Depuis septembre, le lycée du quartier prête des vélos aux élèves qui habitent à plus de trois kilomètres. "
    "Une cinquantaine d'élèves ont déjà profité du service. Un atelier de réparation est ouvert le mercredi "
    "après-midi. Le lycée espère ainsi réduire les embouteillages devant l'établissement le matin.",
    "Le festival de cinéma en plein air revient cet été dans le parc municipal. Chaque vendredi soir, un film sera "
    "projeté gratuitement après le coucher du soleil. Les organisateurs conseillent d'apporter une couverture et "
    "rappellent que les chiens doivent être tenus en laisse.",
]

QA: list[tuple[str, str]] = [
    ("Combien y a-t-il de jours dans une semaine ?", "Sept"),
    ("Quelle est la capitale de l'Italie ?", "Rome"),
    ("Combien font 9 fois 6 ?", "54"),
    ("Quel est l'océan situé entre l'Europe et l'Amérique ?", "L'océan Atlantique"),
    ("Combien de pattes a un insecte ?", "Six"),
    ("Quel est le plus long fleuve de France ?", "La Loire"),
    ("De quelle couleur est le mélange du bleu et du jaune ?", "Vert"),
    ("Combien de secondes y a-t-il dans une minute ?", "Soixante"),
    ("Autour de quel astre la Terre tourne-t-elle en un an ?", "Le Soleil"),
    ("Comment appelle-t-on un animal qui ne mange que des plantes ?", "Un herbivore"),
]
