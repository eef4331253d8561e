const es = { title: "activity" };

const en: typeof es = { title: "activity" };

export default { es, en };
